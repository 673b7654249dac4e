"""product NAME = AXIS * AXIS: the node and its writing (axes/product.py)."""

from __future__ import annotations

from grid_dsl.language.nodes import AxisDecl, Loc, Ref, axis_kind, loc_field
from grid_dsl.language.writing import statement_head


@axis_kind("product")
class ProductDecl(AxisDecl):
    name: str
    left: Ref
    right: Ref
    loc: Loc | None = loc_field()


@statement_head.register
def _product(node: ProductDecl) -> str:
    return f"product {node.name} = {node.left.name} * {node.right.name}"
