"""The manifest: the typed contract between a compiled dataset and its readers.

A dataset's manifest.json (layout: grid_dsl.data.dataset) is read only
through `Manifest` (`read_manifest`, `Dataset.open(...).manifest`) and
written only from one (`dumps_manifest`; grid_dsl.data.dataset.make_manifest
builds it from a checked spec). Its fields,
which are the file's keys in this order (no timestamps: two compiles of the
same spec and corpus give byte-identical files):

    format    "multigrid-dataset/1" (the version; not a field: see below)
    spec      SpecEntry {"hash": sha256 of the spec's text and includes,
              "sources": {file: text}, root first}
    corpus    CorpusEntry {"name", "fingerprint", "documents"}
    split     SplitRule {"method": "documents" | "contiguous",
              "val_fraction", "seed"}; documents: a seeded random choice of
              round(F * D) documents is validation (at least one, and never
              all, when F > 0); contiguous (a corpus of one document): the
              last F of its main stream is validation, as nanoGPT splits
    main      MainEntry {"unit": "chars" | "bytes", "vocab", "dtype"}; chars:
              the sorted distinct characters of the whole corpus (both
              splits share it); bytes: the integers 0..255
    axes      [AxisEntry]: the stored axes, the spec's fed axes in feed
              order (every axis, with mode null, when the spec feeds none):
              {"name", "kind", "vocab" ("_" first), "dtype", "causal",
              "lookahead", "mode", "weight", "dim", "forced", "prefix_check", "train_offset"};
              prefix_check is null, or for a context axis an AxisCheck
              {"cuts", "mismatches" (facts of it or of an axis it reads
              that changed at a cut), "example"}
    splits    {"train": SplitSize {"tokens", "documents"}, "val": ...}
    leaky     true when an axis is fed as oracle, or failed the prefix check
              (compiled with --allow-leaks): no LM score from it
    leaky_reason  why, in words (null when not leaky)
    prefix_check  null when no context axis claims anything to check, else
              PrefixCheck {"cuts", "documents", "allow_leaks", "axes":
              {context axis: its AxisCheck}} (grid_dsl.data.prefix_check)
    library   {"multigrid": version that compiled it}
    shard     only in a shard (`multigrid compile --shard I/N`): ShardEntry
              {"index", "count", "documents": [first, end)}; `multigrid
              merge` drops it

Version rule: FORMAT names the shape of the file. Any change of shape (a key
added, removed or renamed, a value's meaning changed) bumps its number; the
reader accepts FORMAT, and an older version only where it reads losslessly
into today's fields (none yet). Any other version, a missing or unexpected
key, or a value of the wrong type is a UserError that names the file, the
version found and expected, and says to recompile (`multigrid compile`).
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from grid_dsl.data import records
from grid_dsl.data.records import Record, RecordError
from grid_dsl.language.diagnostics import UserError

FORMAT = "multigrid-dataset/1"
MANIFEST = "manifest.json"
SPLITS = ("train", "val")


@attrs.frozen
class SpecEntry(Record):
    hash: str
    sources: dict[str, str]


@attrs.frozen
class CorpusEntry(Record):
    name: str
    fingerprint: str
    documents: int


@attrs.frozen
class SplitRule(Record):
    method: str
    val_fraction: float
    seed: int


@attrs.frozen
class MainEntry(Record):
    unit: str
    vocab: tuple[str | int, ...]
    dtype: str


@attrs.frozen
class AxisCheck(Record):
    """The compile-time prefix check of one context axis."""

    cuts: int
    mismatches: int
    example: str | None


@attrs.frozen
class AxisEntry(Record):
    """One stored axis: what its ids mean and how the spec feeds it."""

    name: str
    kind: str
    vocab: tuple[str, ...]
    dtype: str
    causal: bool
    lookahead: str
    mode: str | None
    weight: float
    dim: int | None
    forced: bool
    prefix_check: AxisCheck | None
    train_offset: int = 0  # a random 0..train_offset added to the ids of each training window (views' option)

    @property
    def prefix_failed(self) -> bool:
        """The compile-time prefix check found a mismatch (--allow-leaks)."""
        return bool(self.prefix_check and self.prefix_check.mismatches)


@attrs.frozen
class SplitSize(Record):
    tokens: int
    documents: int


@attrs.frozen
class PrefixCheck(Record):
    """The compile-time prefix check of the whole dataset."""

    cuts: int
    documents: int
    allow_leaks: bool
    axes: dict[str, AxisCheck]

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.axes.items() if result.mismatches]


@attrs.frozen
class ShardEntry(Record):
    index: int
    count: int
    documents: tuple[int, int]


@attrs.frozen
class Manifest(records.VersionedRecord):
    """A dataset's manifest.json (see the module docstring)."""

    FORMAT = FORMAT  # checked first when read, written first (records.VersionedRecord)

    spec: SpecEntry
    corpus: CorpusEntry
    split: SplitRule
    main: MainEntry
    axes: tuple[AxisEntry, ...]
    splits: dict[str, SplitSize]
    leaky: bool
    leaky_reason: str | None
    prefix_check: PrefixCheck | None
    library: dict[str, str]
    shard: ShardEntry | None = None

    def __attrs_post_init__(self):
        if sorted(self.splits) != sorted(SPLITS):
            raise RecordError(f"splits: expected {' and '.join(SPLITS)}, found {', '.join(self.splits) or 'none'}")

    def axis(self, name: str) -> AxisEntry | None:
        return next((a for a in self.axes if a.name == name), None)

    def to_dict(self) -> dict:
        values = super().to_dict()
        if self.shard is None:  # only a shard's manifest has the key
            del values["shard"]
        return values


def dumps_manifest(manifest: Manifest) -> str:
    # ASCII JSON: a lone surrogate in a corpus (decoded with surrogateescape)
    # still round-trips.
    return json.dumps(manifest.to_dict(), indent=1) + "\n"


def read_manifest(path: str | Path) -> Manifest:
    """The manifest of the dataset directory `path` (UserError naming the
    file when it is missing, unreadable, of another version or malformed)."""
    file = Path(path) / MANIFEST
    if not Path(path).is_dir():
        raise UserError(f"dataset not found: {path} is not a directory "
                        f"(compile one with `multigrid compile SPEC CORPUS --out {path}`)")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} is not a compiled dataset: {file} is missing "
                        f"(compile one with `multigrid compile SPEC CORPUS --out {path}`)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {file}: {getattr(err, 'strerror', None) or err}") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{file}:{err.lineno}:{err.colno}: corrupt manifest ({err.msg}); "
                        "compile the dataset again") from None
    recompile = f"compile the dataset again with this version (`multigrid compile SPEC CORPUS --out {path}`)"
    manifest = Manifest.from_file_values(values, file, "a dataset", version_fix=recompile, damage_fix=recompile)
    vocabularies = [("main.vocab", manifest.main.vocab)] + [(f"axes[{i}].vocab ({a.name})", a.vocab)
                                                            for i, a in enumerate(manifest.axes)]
    for where, vocab in vocabularies:  # ids would mean two things, or one label two ids
        if len(set(vocab)) < len(vocab):
            seen: set = set()
            twice = next(label for label in vocab if label in seen or seen.add(label))
            raise UserError(f"{file} is damaged or was edited ({where}: {twice!r} appears twice); {recompile}")
    return manifest
