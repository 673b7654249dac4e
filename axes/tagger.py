"""tagger NAME = PLUGIN [(OPTION=VALUE, ...)]

Labels from a tagger plug-in: any Python package can add taggers (a spaCy
model, a symbolic algorithm, ...) without touching this project, by
registering them under the entry-point group "multigrid.taggers":

    # the plug-in package's pyproject.toml
    [project.entry-points."multigrid.taggers"]
    spacy_ents = "my_package.taggers:SpacyEntities"

    # a spec
    tagger ents = spacy_ents (model="en_core_web_sm", labels=[PERSON, GPE])

The plug-in interface (see examples/plugin_tagger for a runnable package):

- The entry point loads a class (any callable). It is called once, when the
  spec is checked, with the spec's options as keyword arguments, converted to
  plain Python: "string" -> str, 3 -> int, 0.5 -> float, true/false and a
  bare `flag` -> bool, a bare name -> str, [A, "b"] -> list of str. It
  should raise (any exception, with a message for the user) when an option
  is wrong.
- The instance has `labels`: a sequence of distinct label strings, the
  axis's vocabulary, fixed before any text is read.
- Optionally `causal` (default False): declare True only if the label at
  position t depends on text[:t+1] alone. An axis fed as `context` must be
  causal; `multigrid compile` tests the claim on the corpus it compiles
  (and `multigrid check --verify` on a sample text).
- Optionally `causal_spans` (default: the value of `causal`): declare True
  only if the spans are decided as the text is read: which spans hold the
  character at t, and where they started, depend on text[:t+1] alone, and a
  span ending at e is known from text[:e+1]. Views (`position`, `index`,
  `depth`), `within`, lags after the axis and chunks read these facts, not
  the labels; a plug-in whose labels are causal but whose spans are not
  (say, a label on the character after each span) sets this to False.
  `multigrid compile` checks the spans too.
- `tag(text: str)` returns an iterable of (start, end, label): character
  offsets into `text` (end exclusive), labels from `labels`, spans not
  overlapping each other. It is called once per document, on the text as
  normalised by the main axis.

The stream shows each span's label on its characters; characters outside
every span have no label. The spans are kept, so the axis can be grouped
within, chunked over, lagged after and viewed like any grouping.

Built in: `char_class` (CharClassTagger below) tags runs of characters of
one class: UPPER, LOWER, DIGIT, SPACE, PUNCT, OTHER; `labels=[...]` picks
the classes to tag (all by default).
"""

from __future__ import annotations

import importlib.metadata
import operator
import re
import unicodedata

import attrs
import numpy as np

from grid_dsl.language import nodes
from grid_dsl.language.diagnostics import Diagnostic, SpecError, did_you_mean
from grid_dsl.language.kinds.tagger import TaggerDecl
from grid_dsl.language.nodes import Loc

from axes.base import CAUSAL, NONE_LABEL, SPAN_FACTS_CAUSAL, Axis, Lookahead, Spans, Stream, builds, paint

ENTRY_POINT_GROUP = "multigrid.taggers"


def installed_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """The tagger plug-ins installed in this environment, by name."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


@attrs.frozen(kw_only=True)
class TaggerAxis(Axis):
    kind = "tagger"
    plugin_name: str
    plugin: object = attrs.field(eq=False, repr=False)
    loc: Loc | None = None

    def compute(self, doc, inputs) -> Stream:
        try:
            found = list(self.plugin.tag(doc.text))
        except Exception as err:  # the plug-in's own failure: say whose it is
            raise self._error(f"failed: {type(err).__name__}: {err}", "this is a problem in the plug-in, not in the spec") from err
        starts, ends, labels = self._checked(found, len(doc))
        keep = ends > starts
        starts, ends, labels = starts[keep], ends[keep], labels[keep]
        return Stream(paint(len(doc), starts, ends, labels), Spans(starts, ends, labels))

    def _checked(self, found: list, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The plug-in's spans as sorted arrays of starts, ends and label ids,
        or a SpecError naming the plug-in and the first bad span."""
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
        if not (set(map(type, found)) <= {tuple, list} and set(map(len, found)) == {3}):  # fast check first
            bad = next((item for item in found if not (isinstance(item, (tuple, list)) and len(item) == 3)), None)
            if bad is not None:
                raise self._error(f"returned {bad!r}, not a (start, end, label) triple")
        starts, ends, labels = (list(map(operator.itemgetter(i), found)) for i in range(3))
        if not all(_is_offset_type(t) for t in set(map(type, starts)) | set(map(type, ends))):
            bad = next(item for item in found if not (_is_offset_type(type(item[0])) and _is_offset_type(type(item[1]))))
            raise self._error(f"returned span {bad!r}, whose offsets are not integers")
        if not all(issubclass(t, str) for t in set(map(type, labels))):
            bad = next(item for item in found if not isinstance(item[2], str))
            raise self._error(f"returned span {bad!r}, whose label is not a string")
        starts, ends, labels = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), np.asarray(labels)
        outside = np.flatnonzero((starts < 0) | (ends < starts) | (ends > n))
        if len(outside):
            raise self._error(f"returned span {found[outside[0]]!r}, outside the text (0 <= start <= end <= {n} needed)")
        ids = self._label_ids(labels)
        order = np.lexsort((ends, starts))
        starts, ends, ids = starts[order], ends[order], ids[order]
        overlaps = np.flatnonzero(ends[:-1] > starts[1:])
        if len(overlaps):
            i = overlaps[0]
            raise self._error(f"returned overlapping spans ({starts[i]}, {ends[i]}) and ({starts[i + 1]}, {ends[i + 1]})",
                              "a tagger's spans must not overlap")
        return starts, ends, ids

    def _label_ids(self, labels: np.ndarray) -> np.ndarray:
        uniques, inverse = np.unique(labels, return_inverse=True)
        unknown = [label for label in uniques.tolist() if label not in self.labels]
        if unknown:
            raise self._error(f"returned label {unknown[0]!r}, which is not in its labels ({', '.join(self.labels)})",
                              "a plug-in's `labels` must list every label its tag() returns")
        return np.array([self.label_id(label) for label in uniques.tolist()], dtype=np.int32)[inverse.reshape(-1)]

    def _error(self, message: str, hint: str = "") -> SpecError:
        return SpecError([Diagnostic(self.loc, f"tagger plug-in '{self.plugin_name}' (axis '{self.name}') {message}", hint)])


def _is_offset_type(t: type) -> bool:
    return issubclass(t, (int, np.integer)) and not issubclass(t, (bool, np.bool_))


# ------------------------------------------------------------------ building


def _plain(value) -> tuple[object, str]:
    """An option value as plain Python, or a problem."""
    if value is None:
        return True, ""
    if isinstance(value, nodes.Str):
        return value.value, ""
    if isinstance(value, nodes.Num):
        return value.value, ""
    if isinstance(value, nodes.Ident):
        return {"true": True, "false": False}.get(value.name, value.name), ""
    if isinstance(value, nodes.ListValue):
        items = [item.value if isinstance(item, nodes.Str) else getattr(item, "name", None) for item in value.items]
        if None in items:
            return None, 'a list passed to a plug-in holds names or "strings", e.g. [PERSON, "New York"]'
        return items, ""
    return None, 'a plug-in takes strings, numbers, true/false, names and lists; write a regex as a "string"'


def _plugin_loc(node: TaggerDecl, ctx) -> Loc | None:
    """Where the plug-in's name is written (the statement, if not found)."""
    loc = node.loc
    source = ctx.diagnostics.sources.get(loc.file) if loc else None
    if source is None:
        return loc
    lines = source.split("\n")
    statement = "\n".join(lines[loc.line - 1 : loc.end_line])[loc.column - 1 :]
    m = re.search(rf"=\s*({re.escape(node.plugin)})\b", statement)
    if m is None:
        return loc
    before = statement[: m.start(1)]
    line = loc.line + before.count("\n")
    column = (loc.column + len(before)) if "\n" not in before else len(before) - before.rindex("\n")
    return Loc(loc.file, line, column, line, column + len(node.plugin))


def _instantiate(node: TaggerDecl, ctx, where: Loc | None):
    """The plug-in instance the spec asks for, or None (errors reported)."""
    plugins = installed_plugins()
    entry_point = plugins.get(node.plugin)
    if entry_point is None:
        shown = ", ".join(sorted(plugins)) or "none"
        ctx.error(where, f"unknown tagger plug-in {node.plugin!r} (installed: {shown})",
                  did_you_mean(node.plugin, plugins) or f"install a package that registers it in the entry-point group "
                  f"'{ENTRY_POINT_GROUP}' (see examples/plugin_tagger)")
        return None
    options, ok = {}, True
    for option in node.options.items if node.options else ():
        value, problem = _plain(option.value)
        if option.key in options:
            problem = "given twice"
        if problem:
            ctx.error((option.value or option).loc, f"option {option.key!r}: {problem}")
            ok = False
        options[option.key] = value
    if not ok:
        return None
    try:
        factory = entry_point.load()
    except Exception as err:  # a broken installation: any import-time error
        ctx.error(where, f"tagger plug-in {node.plugin!r} ({entry_point.value}) could not be loaded: {type(err).__name__}: {err}",
                  "reinstall the package that provides it")
        return None
    try:
        return factory(**options)
    except Exception as err:  # the plug-in rejects its options: its message is for the user
        ctx.error(node.options.loc if node.options else where, f"tagger plug-in {node.plugin!r} rejected its options: {err}",
                  f"{type(err).__name__} raised by {entry_point.value}")
        return None


def _interface_problem(plugin) -> str:
    """What the instance lacks of the plug-in interface ("" if nothing)."""
    labels = getattr(plugin, "labels", None)
    if isinstance(labels, str) or not isinstance(labels, (list, tuple)) or not labels:
        return "has no `labels` (a non-empty list of label strings, known before any text)"
    if not all(isinstance(label, str) and label for label in labels):
        return f"has labels that are not non-empty strings: {labels!r}"
    if len(set(labels)) != len(labels) or NONE_LABEL in labels:
        return f"has repeated labels or the reserved label {NONE_LABEL!r}: {labels!r}"
    if not isinstance(getattr(plugin, "causal", False), bool):
        return "has a `causal` that is not True or False"
    if not isinstance(getattr(plugin, "causal_spans", False), bool):
        return "has a `causal_spans` that is not True or False"
    if not callable(getattr(plugin, "tag", None)):
        return "has no tag(text) method"
    return ""


@builds(TaggerDecl)
def build_tagger(node: TaggerDecl, ctx) -> TaggerAxis | None:
    where = _plugin_loc(node, ctx)
    plugin = _instantiate(node, ctx, where)
    if plugin is None:
        return None
    problem = _interface_problem(plugin)
    if problem:
        ctx.error(where, f"tagger plug-in {node.plugin!r} {problem}", "see the plug-in interface in axes/tagger.py")
        return None
    causal = getattr(plugin, "causal", False)
    spans_causal = getattr(plugin, "causal_spans", causal)
    unknown = Lookahead("unbounded", note=f"plug-in '{node.plugin}' declares no look-ahead bound")
    return TaggerAxis(
        name=node.name,
        labels=tuple(plugin.labels),
        lookahead=CAUSAL if causal else unknown,
        has_spans=True,
        **(SPAN_FACTS_CAUSAL if spans_causal else {"span_start": unknown, "span_end": unknown}),
        plugin_name=node.plugin,
        plugin=plugin,
        loc=where,
    )


# ------------------------------------------------------- built-in plug-in


def _char_class(char: str) -> str:
    if char.isupper():
        return "UPPER"
    if char.islower():
        return "LOWER"
    if unicodedata.category(char) == "Nd":
        return "DIGIT"
    if char.isspace():
        return "SPACE"
    if unicodedata.category(char).startswith("P"):
        return "PUNCT"
    return "OTHER"


class CharClassTagger:
    """Runs of characters of one class: UPPER and LOWER (cased letters),
    DIGIT (decimal digits), SPACE, PUNCT (Unicode punctuation) and OTHER
    (uncased letters, marks, symbols, ...). `labels` picks the classes to
    tag; the others are left unlabelled. Causal: a character's class is its own."""

    CLASSES = ("UPPER", "LOWER", "DIGIT", "SPACE", "PUNCT", "OTHER")
    causal = True

    def __init__(self, labels: list[str] | str | None = None):
        chosen = [labels] if isinstance(labels, str) else list(self.CLASSES if labels is None else labels)
        unknown = [label for label in chosen if label not in self.CLASSES]
        if unknown:
            hint = did_you_mean(unknown[0], self.CLASSES)
            raise ValueError(f"unknown character class {unknown[0]!r}; classes: {', '.join(self.CLASSES)}"
                             + (f" ({hint})" if hint else ""))
        self.labels = list(dict.fromkeys(chosen))

    def tag(self, text: str):
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if len(codes) == 0:
            return []
        uniques, inverse = np.unique(codes, return_inverse=True)
        number = {label: i for i, label in enumerate(self.CLASSES)}
        kinds = np.array([number[_char_class(chr(c))] for c in uniques.tolist()], dtype=np.int64)[inverse.reshape(-1)]
        starts = np.flatnonzero(np.r_[True, kinds[1:] != kinds[:-1]])
        ends = np.r_[starts[1:], len(kinds)]
        run_kinds = kinds[starts]
        wanted = np.isin(run_kinds, [number[label] for label in self.labels])
        names = np.array(self.CLASSES)[run_kinds[wanted]]
        return zip(starts[wanted].tolist(), ends[wanted].tolist(), names.tolist())


# ------------------------------------------- random declarations (grid_dsl.testing)


def can_declare(known) -> bool:
    return bool(known.taggers)  # the plug-ins the property test asked for


def strategy(known, name: str, pieces):
    from hypothesis import strategies as st

    @st.composite
    def build(draw):
        plugin = draw(st.sampled_from(known.taggers))
        opts = None
        if plugin == "char_class":  # the built-in plug-in's one option
            classes = st.lists(st.sampled_from(CharClassTagger.CLASSES), min_size=1, max_size=3, unique=True)
            opts = draw(pieces.options(("labels", classes.map(lambda cs: nodes.ListValue(tuple(map(nodes.Ident, cs)))))))
        return TaggerDecl(name, plugin, opts)

    return build()
