"""AST -> checked Plan.

The checker resolves includes, names and references, orders axes so each
comes after the axes it reads, lets each kind's builder (axes/) validate its
own node, and checks the roles of fed axes. It reports every problem it finds,
then raises one SpecError.
"""

from __future__ import annotations

import graphlib
import os
from pathlib import Path
from typing import Any, Callable

import attrs
import regex

import axes  # noqa: F401  (registers every kind's builder)
from axes.base import BUILDERS, MAX_LABELS, Axis
from axes.main import MainAxis

from grid_dsl.language import nodes
from grid_dsl.language.diagnostics import Diagnostics, SpecError, did_you_mean, inner_loc
from grid_dsl.language.parser import decode_spec, parse, parse_file
from grid_dsl.data.plan import DTYPES, MODES, FeedSpec, Plan, dtype_for

MAX_WEIGHT = 1000.0  # a feed's loss weight
MAX_DIM = 4096  # a feed's embedding width
MAX_FED_LABELS = 2_000_000  # embedding rows of every fed axis together
REGEX_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}


@attrs.frozen
class Opt:
    """One option a kind accepts: its type, default and allowed values.

    types: flag (bare `name` or name=true/false), int, number, name (a bare
    word, optionally from `choices`), string, labels (a [list] of labels),
    regex.
    """

    type: str
    default: Any = None
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None  # every number a spec sizes has a ceiling: no line may take the machine down


class BuildContext:
    """What a kind's builder may use: resolved inputs, option and regex
    validation, and error reporting with locations."""

    opt = staticmethod(Opt)

    def __init__(self, diagnostics: Diagnostics, built: dict[str, Axis], base_dir: Path):
        self.diagnostics = diagnostics
        self.built = built
        self.base_dir = base_dir

    def error(self, loc, message: str, hint: str = "") -> None:
        self.diagnostics.error(loc, message, hint)

    def warning(self, loc, message: str, hint: str = "") -> None:
        self.diagnostics.warning(loc, message, hint)

    def axis(self, ref: nodes.Ref) -> Axis | None:
        """The built axis `ref` names (None if it failed to build; unknown
        names were already reported)."""
        return self.built.get(ref.name)

    def label(self, axis: Axis, label: nodes.Label | nodes.Ident | nodes.Str) -> int | None:
        text = label.text if isinstance(label, nodes.Label) else getattr(label, "name", getattr(label, "value", None))
        if text in axis.labels:
            return axis.label_id(text)
        shown = ", ".join(axis.labels[:12]) + (" ..." if len(axis.labels) > 12 else "")
        hint = did_you_mean(text, axis.labels) or f"its labels are: {shown}"
        self.error(label.loc, f"axis '{axis.name}' has no label {text!r}", hint)
        return None

    def path(self, value: nodes.Str) -> Path:
        return (self.base_dir / value.value).resolve()

    def regex(self, node: nodes.Regex, extra_flags: int = 0) -> regex.Pattern | None:
        flags = extra_flags
        for letter in node.flags:
            flags |= REGEX_FLAGS[letter]
        try:
            return regex.compile(node.source, flags)
        except regex.error as err:
            pos = err.pos if getattr(err, "pos", None) is not None else 0
            loc = inner_loc(node.loc, 1 + pos) if node.loc else None
            self.error(loc, f"invalid regular expression: {err.msg if hasattr(err, 'msg') else err}",
                       "regular expressions follow Python's `regex` module syntax")
            return None

    def options(self, options: nodes.Options | None, schema: dict[str, Opt]) -> dict | None:
        """Validated option values (defaults filled in), or None on error."""
        values = {key: spec.default for key, spec in schema.items()}
        ok = True
        for option in options.items if options else ():
            spec = schema.get(option.key)
            if spec is None:
                known = ", ".join(schema) or "none"
                self.error(option.loc, f"unknown option {option.key!r}", did_you_mean(option.key, schema) or f"options here: {known}")
                ok = False
                continue
            value, problem = _convert(option.value, spec)
            if problem:
                self.error((option.value or option).loc, f"option {option.key!r}: {problem}")
                ok = False
            else:
                values[option.key] = value
        return values if ok else None


def _convert(value, spec: Opt) -> tuple[Any, str]:
    t = spec.type
    if t == "flag":
        if value is None:
            return True, ""
        if isinstance(value, nodes.Ident) and value.name in ("true", "false"):
            return value.name == "true", ""
        return None, "expected true or false (or the bare option name for true)"
    if value is None:
        return None, "needs a value (write key=value)"
    if t in ("int", "number"):
        if not isinstance(value, nodes.Num) or (t == "int" and not isinstance(value.value, int)):
            return None, f"expected {'a whole number' if t == 'int' else 'a number'}"
        if spec.minimum is not None and value.value < spec.minimum:
            return None, f"must be at least {spec.minimum:g}"
        if spec.maximum is not None and not value.value <= spec.maximum:  # `not <=`: NaN and huge ints too
            return None, f"must be at most {spec.maximum:g}"
        return value.value, ""
    if t == "name":
        if not isinstance(value, nodes.Ident):
            return None, "expected a bare name" + (f": one of {', '.join(spec.choices)}" if spec.choices else "")
        if spec.choices and value.name not in spec.choices:
            return None, f"expected one of {', '.join(spec.choices)}, not {value.name!r}"
        return value.name, ""
    if t == "string":
        if not isinstance(value, nodes.Str):
            return None, 'expected a "string"'
        return value.value, ""
    if t == "labels":
        items = value.items if isinstance(value, nodes.ListValue) else (value,)
        labels = []
        for item in items:
            if isinstance(item, nodes.Ident):
                labels.append(item.name)
            elif isinstance(item, nodes.Str):
                labels.append(item.value)
            else:
                return None, "expected a list of labels, e.g. [HERO, VILLAIN]"
        return tuple(labels), ""
    if t == "regex":
        if not isinstance(value, nodes.Regex):
            return None, "expected a /regex/"
        return value, ""
    raise AssertionError(t)


# ------------------------------------------------------------------ includes

# A loader finds an included file: load(path) -> its text, or None when there
# is no such file. `path` is the include's path resolved against the including
# file's folder. The default reads the disk; `stored_sources` serves the texts
# a manifest or checkpoint keeps, so a stored spec is checked again without
# writing its files anywhere.
Loader = Callable[[Path], "str | None"]


def read_from_disk(path: Path) -> str | None:
    if not path.is_file():
        return None
    return decode_spec(path.read_bytes(), str(path))


class StoredSources:
    """A loader over {absolute path: text} (a spec's `sources`, root first).
    An include resolved on another machine has another absolute path, so a
    path is matched exactly, else by the longest tail of path components that
    names exactly one stored file."""

    def __init__(self, sources: dict[str, str]):
        self.sources = dict(sources)

    def name_of(self, path: Path) -> str | None:
        """The stored file `path` means, or None."""
        if str(path) in self.sources:
            return str(path)
        included = list(self.sources)[1:]
        for size in range(len(path.parts), 0, -1):
            found = [name for name in included if Path(name).parts[-size:] == path.parts[-size:]]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                return None
        return None

    def __call__(self, path: Path) -> str | None:
        name = self.name_of(path)
        return None if name is None else self.sources[name]


stored_sources = StoredSources


def _load_with_includes(spec: nodes.Spec, diagnostics: Diagnostics, chain: tuple[Path, ...],
                        load: Loader) -> list[tuple[Any, Path]]:
    """Statements of `spec` with includes expanded in place, each paired
    with the directory its paths are relative to."""
    here = Path(spec.file).resolve().parent if spec.file and not spec.file.startswith("<") else Path.cwd()
    out = []
    for statement in spec.statements:
        if not isinstance(statement, nodes.Include):
            out.append((statement, here))
            continue
        path = (here / statement.path.value).resolve()
        if path in chain:
            cycle = " -> ".join(p.name for p in chain[chain.index(path):] + (path,))
            diagnostics.error(statement.loc, f"include cycle: {cycle}", "remove one of these includes")
            continue
        try:
            text = load(path)
            if text is None:
                diagnostics.error(statement.path.loc, f"included file not found: {path}",
                                  "include paths are relative to the including file")
                continue
            included = parse(text, str(path))
        except SpecError as err:
            diagnostics.items.extend(err.diagnostics)
            diagnostics.sources.update(err.sources)
            continue
        diagnostics.sources[str(path)] = included.source
        out.extend(_load_with_includes(included, diagnostics, chain + (path,), load))
    return out


# ------------------------------------------------------------------- checking


def check(spec: nodes.Spec, load: Loader = read_from_disk) -> Plan:
    """Check a parsed spec; its includes are found by `load` (see Loader),
    relative to its file."""
    diagnostics = Diagnostics({spec.file: spec.source})
    root = Path(spec.file).resolve() if not spec.file.startswith("<") else Path(os.devnull)
    statements = _load_with_includes(spec, diagnostics, (root,), load)

    main = MainAxis()
    main_decls = [(s, d) for s, d in statements if isinstance(s, nodes.MainDecl)]
    for extra, _ in main_decls[1:]:
        diagnostics.error(extra.loc, "the main axis is declared twice", f"keep one `main` (the first is at {main_decls[0][0].loc})")
    decls: dict[str, tuple[Any, Path]] = {}
    for statement, base in statements:
        if isinstance(statement, nodes.AxisDecl):
            if statement.name in decls:
                first = decls[statement.name][0].loc
                diagnostics.error(statement.loc, f"duplicate axis name {statement.name!r}", f"first declared at {first}; rename one")
            else:
                decls[statement.name] = (statement, base)

    order = _dependency_order(decls, diagnostics)
    built: dict[str, Axis] = {}
    if main_decls:
        ctx = BuildContext(diagnostics, built, main_decls[0][1])
        main = BUILDERS[nodes.MainDecl](main_decls[0][0], ctx) or main
    for name in order:
        node, base = decls[name]
        if any(ref.name not in built for ref in nodes.refs(node)):
            continue  # an input failed; its own error is already reported
        axis = BUILDERS[type(node)](node, BuildContext(diagnostics, built, base))
        if axis is not None and len(axis.labels) > MAX_LABELS:  # a plug-in's, or a kind without its own check
            diagnostics.error(node.loc, f"axis {name!r} has {len(axis.labels):,} labels, more than an axis may have "
                              f"({MAX_LABELS:,})", "relabel it to fewer labels")
        elif axis is not None:
            built[name] = axis

    feeds = _check_feeds([s for s, _ in statements if isinstance(s, nodes.Feed)], decls, built, diagnostics)
    diagnostics.raise_if_errors()
    axes_in_order = tuple(built[name] for name in order if name in built)
    return Plan(main, axes_in_order, feeds, sources=dict(diagnostics.sources), warnings=tuple(diagnostics.warnings))


def _dependency_order(decls: dict, diagnostics: Diagnostics) -> list[str]:
    graph = {}
    for name, (node, _) in decls.items():
        deps = []
        for ref in nodes.refs(node):
            if ref.name in decls:
                deps.append(ref.name)
            else:
                diagnostics.error(ref.loc, f"unknown axis {ref.name!r}", did_you_mean(ref.name, decls) or "declare it (anywhere in the spec), or include the file that does")
        graph[name] = deps
    while True:  # every cycle is reported; the axes on one are left out, the rest still checked
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as err:
            cycle = list(reversed(err.args[1]))
            node = decls[cycle[0]][0]
            diagnostics.error(node.loc, f"reference cycle: {' -> '.join(cycle)}",
                              "an axis cannot depend on itself, directly or through others")
            graph = {n: [d for d in deps if d not in cycle] for n, deps in graph.items() if n not in cycle}


def _check_feeds(feeds, decls, built, diagnostics: Diagnostics) -> tuple[FeedSpec, ...]:
    schema = {
        "weight": Opt("number", 1.0, minimum=0, maximum=MAX_WEIGHT),
        "dim": Opt("int", None, minimum=1, maximum=MAX_DIM),
        "dtype": Opt("name", None, choices=tuple(DTYPES)),
        "force": Opt("flag", False),
    }
    out, seen = [], {}
    for feed in feeds:
        name = feed.axis.name
        if name in seen:
            diagnostics.error(feed.loc, f"axis {name!r} is fed twice", f"first fed at {seen[name]}")
            continue
        seen[name] = feed.loc
        if name not in decls:
            diagnostics.error(feed.axis.loc, f"unknown axis {name!r}", did_you_mean(name, decls))
            continue
        if feed.mode not in MODES:
            diagnostics.error(feed.loc, f"unknown mode {feed.mode!r}", f"modes: {', '.join(MODES)} (see docs/design.md)")
            continue
        opts = BuildContext(diagnostics, built, Path.cwd()).options(feed.options, schema)
        axis = built.get(name)
        if opts is None or axis is None:
            continue
        mode, forced = feed.mode, False
        if opts["force"] and feed.mode != "context":
            diagnostics.error(feed.loc, "`force` only applies to context mode")
            continue
        if feed.mode == "context" and not axis.causal:
            if not opts["force"]:
                diagnostics.error(
                    feed.loc,
                    f"context mode needs a causal axis, and {name!r} looks ahead: {axis.lookahead}",
                    f"use `feed {name} as predict`, feed a causal lag of it (e.g. `lag {name}_prev = {name} after tokens`), "
                    f"or write `feed {name} as context (force)`, which makes the run oracle: leaky, not an LM score",
                )
                continue
            diagnostics.warning(feed.loc, f"{name!r} is not causal; forced context makes this run oracle (leaky)")
            mode, forced = "oracle", True
        size = len(axis.vocab)
        dtype = opts["dtype"] or dtype_for(size) if size <= DTYPES["uint32"] else None
        if dtype is None or size > DTYPES[dtype]:
            diagnostics.error(
                (feed.options or feed).loc,
                f"axis {name!r} has {size} labels (with id 0), which do not fit {opts['dtype'] or 'uint32'}",
                "use a larger dtype, or fewer labels (relabel, or a product of smaller axes)",
            )
            continue
        if mode == "predict" and axis.train_offset:
            diagnostics.error(feed.loc, f"{name!r} has a train_offset, which would move the labels it is trained to predict",
                              "feed it as context, or drop train_offset")
            continue
        if mode == "mask" and (opts["weight"] != 1.0 or opts["dim"] is not None):
            diagnostics.error((feed.options or feed).loc, "a mask is not read by the model: it takes no weight or dim",
                              f"write `feed {name} as mask`")
            continue
        out.append(FeedSpec(name, mode, float(opts["weight"]), opts["dim"], dtype, forced))
    _check_mask(out, seen, diagnostics)
    rows = sum(len(built[f.axis].vocab) for f in out if f.mode != "mask")
    if rows > MAX_FED_LABELS:  # refused here, before a dataset or a model of that size exists
        gigabytes = rows * 128 * 4 * 4 / 1e9  # float32 weights, gradients and two Adam moments at width 128
        diagnostics.error(feeds[-1].loc, f"the fed axes have {rows:,} labels in all, more than {MAX_FED_LABELS:,}: "
                          f"their embeddings alone would take about {gigabytes:.0f} GB to train at width 128",
                          "feed fewer or smaller axes (relabel to fewer labels)")
    return tuple(out)


def _check_mask(feeds: list[FeedSpec], locations: dict, diagnostics: Diagnostics) -> None:
    """At most one mask, and none beside predict axes: bpc_joint would add
    masked main bits to axis bits over every position."""
    masks = [f for f in feeds if f.mode == "mask"]
    for extra in masks[1:]:
        diagnostics.error(locations[extra.axis], f"a second mask ({extra.axis!r})",
                          f"one axis marks the scored characters; combine them (e.g. a rules axis) instead of {masks[0].axis!r} and {extra.axis!r}")
    predict = [f.axis for f in feeds if f.mode == "predict"]
    if masks and predict:
        diagnostics.error(locations[masks[0].axis], f"a mask ({masks[0].axis!r}) and predict axes ({', '.join(predict)}) do not combine",
                          "bpc_joint would add bits of masked characters to axis bits over every position; feed them as context, or drop the mask")


# -------------------------------------------------------------------- entry


def load_spec(path: str | Path) -> Plan:
    """Parse and check the spec file at `path`."""
    return check(parse_file(path))


def loads_spec(text: str, name: str = "<spec>") -> Plan:
    """Parse and check spec text (includes are relative to the current directory)."""
    return check(parse(text, name))
