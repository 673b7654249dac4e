"""Which axes of a compiled dataset a model reads, and the network that reads them.

`model_axes` applies the `axes` config key (fed | none | a,b) and refuses a
non-causal axis fed as context; `loss_mask` is the axis fed `as mask`, which
no model reads and every model on the dataset is scored through;
`boundary_axis` is the axis the `boundary` key names (a hierarchical model's
global blocks read at its boundaries), checked as causal as a context feed;
`initial_axes` checks a given model (an expansion) against a dataset;
`grid_config` is the network for a config.
"""

from __future__ import annotations

from grid_dsl.data.manifest import AxisEntry
from grid_dsl.language.diagnostics import UserError, did_you_mean

from model.network.config import SHAPE_KEYS, TrainConfig
from model.network.transformer import AxisSpec, GridConfig, GridTransformer


def model_axes(ds, selection: str = "fed") -> list[AxisEntry]:
    """The manifest entries of the axes the model reads: every axis the spec
    feeds (mode not null), none (the baseline on the same data), or the fed
    axes named in a comma-separated `selection`, in the dataset's order."""
    fed = [a for a in ds.axes if a.mode is not None and a.mode != "mask"]
    if selection == "fed":
        axes = fed
    elif selection == "none":
        axes = []
    else:
        names = [name.strip() for name in selection.split(",") if name.strip()]
        known = {a.name for a in fed}
        for name in names:
            if name not in known:
                unfed = " (stored, but the spec does not feed it)" if name in ds.axis_names else ""
                raise UserError(f"config: axes names {name!r}, which dataset {ds.path} does not feed{unfed}; "
                                f"the fed axes are: {', '.join(sorted(known)) or 'none'} (or axes=fed, axes=none)")
        axes = [a for a in fed if a.name in names]
    for a in axes:
        if a.mode == "context" and not a.causal and not a.forced:
            raise UserError(f"dataset {ds.path}: axis {a.name!r} is fed as context but is not causal "
                            f"(look-ahead: {a.lookahead}); feed it as predict, or as `context (force)` for a "
                            "leaky (oracle) run, and compile the dataset again")
    return axes


def loss_mask(ds) -> AxisEntry | None:
    """The axis a dataset feeds `as mask` (the checker allows one), or None.
    Every model trained on the dataset, the baseline too, is scored on the
    characters it labels."""
    return next((a for a in ds.axes if a.mode == "mask"), None)


def boundary_axis(ds, boundary: str) -> AxisEntry | None:
    """The stored axis the `boundary` config key names (None for "" and
    every:K); UserError for an axis the dataset does not store, one that is
    not causal (the checks of a context feed: the boundaries of position t
    must follow from characters <= t) and a grouping whose spans cannot be
    told apart."""
    if not boundary or boundary.startswith("every:"):
        return None
    entry = next((a for a in ds.axes if a.name == boundary), None)
    fix = "name a causal axis the dataset stores, or use boundary=every:K"
    if entry is None:
        hint = did_you_mean(boundary, ds.axis_names) or f"it stores: {', '.join(ds.axis_names) or 'no axes'}"
        raise UserError(f"config: boundary={boundary}: dataset {ds.path} stores no axis {boundary!r} ({hint}); {fix}")
    if not entry.causal or entry.prefix_failed:
        why = (f"look-ahead: {entry.lookahead}" if not entry.causal
               else "it failed the compile-time prefix check")
        raise UserError(f"config: boundary={boundary}: axis {boundary!r} of dataset {ds.path} is not causal ({why}), "
                        "so where the global blocks read would reveal upcoming characters; " + fix)
    if entry.kind == "group" and not any(str(label).startswith("B-") for label in entry.vocab):
        raise UserError(f"config: boundary={boundary}: grouping {boundary!r} is stored with encoding=span, which does "
                        f"not show where adjacent spans start; declare it with (encoding=bio), whose B- labels "
                        "are the boundaries, and compile the dataset again")
    return entry


def meta_columns(ds, axes, mask_name: str | None, boundary_name: str | None = None) -> list[int]:
    """The columns of a dataset's meta a model reads: its axes in model order,
    then its loss mask, then its boundary axis (GridTransformer.align takes
    them from the end)."""
    names = [a.name for a in axes] + ([mask_name] if mask_name else []) + ([boundary_name] if boundary_name else [])
    return [ds.axis_names.index(name) for name in names]


def initial_axes(model: GridTransformer, ds, cfg: TrainConfig) -> list[AxisEntry]:
    """The manifest entries of the axes `model` (train's init_model) reads,
    in its order; ValueError unless `ds` feeds them alike and `cfg` has the
    model's shape."""
    # A given model's dropout is built in (a layer, or Identity at 0), so it counts here too.
    differ = [f"{k} {getattr(model.config, k)!r} vs {getattr(cfg, k)!r}" for k in SHAPE_KEYS + ("dropout",)
              if getattr(model.config, k) != getattr(cfg, k)]
    mask = loss_mask(ds)
    if model.config.loss_mask != (mask.name if mask else None):
        differ.append(f"loss mask {model.config.loss_mask!r} vs {mask.name if mask else None!r}")
    boundary = boundary_axis(ds, model.config.boundary)
    if boundary is not None and tuple(boundary.vocab) != tuple(model.config.boundary_vocab):
        differ.append(f"boundary axis {boundary.name!r} labels {model.config.boundary_vocab} vs {boundary.vocab}")
    if model.config.vocab_size != len(ds.main_vocab):
        differ.append(f"main vocabulary {model.config.vocab_size} vs {len(ds.main_vocab)}")
    fed = {a.name: a for a in model_axes(ds, "fed")}
    for axis in model.config.axes:
        entry = fed.get(axis.name)
        if entry is None or (len(entry.vocab), entry.mode) != (axis.vocab_size, axis.mode):
            found = f"{len(entry.vocab)} labels, {entry.mode}" if entry else "not fed"
            differ.append(f"axis {axis.name!r} {axis.vocab_size} labels, {axis.mode} vs {found}")
    if differ:
        raise ValueError(f"init_model does not match the config and dataset {ds.path}: {'; '.join(differ)}")
    return [fed[a.name] for a in model.config.axes]


def grid_config(cfg: TrainConfig, ds, axes) -> GridConfig:
    """The network for `cfg` reading `axes` (AxisEntry or ModelAxis) of `ds`."""
    specs = tuple(AxisSpec.of(a) for a in axes)
    mask, boundary = loss_mask(ds), boundary_axis(ds, cfg.boundary)
    return GridConfig(vocab_size=len(ds.main_vocab), block_size=cfg.block_size, n_layer=cfg.n_layer,
                      n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout, bias=cfg.bias,
                      fusion=cfg.fusion, axes=specs, loss_mask=mask.name if mask else None,
                      boundary=cfg.boundary, boundary_vocab=boundary.vocab if boundary else (),
                      global_layers=cfg.global_layers, global_embd=cfg.global_embd, global_heads=cfg.global_heads,
                      local_window=cfg.local_window, global_block=cfg.global_block)
