"""Compiled datasets: the manifest, and a memory-mapped reader for training.

A compiled dataset is a directory (written by `grid_dsl.data.build`, see
`multigrid compile`):

    DIR/manifest.json
    DIR/train/main.bin      main ids: indices into manifest.main.vocab
    DIR/train/<axis>.bin    one per stored axis: ids into that axis's vocab (0 = "_")
    DIR/train/docs.bin      int64 offset of the first position of every document
    DIR/val/...             the same for the validation split

Every .bin file is a flat little-endian array of the dtype the manifest
names (uint8, uint16 or uint32: the smallest that holds the vocabulary;
docs.bin is always int64), readable with `numpy.memmap`. All the streams of a
split have the same length: position t of every axis belongs to main
position t. Documents are concatenated in corpus order; docs.bin tells where
each begins, so a reader can keep windows inside one document.

manifest.json describes the dataset: what its ids mean, how it was split
and compiled. It is read and written only through the typed
`grid_dsl.data.manifest.Manifest` (its module docstring lists the fields and
the version rule); `Dataset.open(DIR).manifest` is one.

Writers (grid_dsl.data.build, grid_dsl.data.merge) go through
`grid_dsl.data.staging.staged(DIR)`: everything is written into
`.DIR.tmp-HOST-PID-<random>` beside DIR and renamed to DIR at the end, so a
dataset directory is complete or absent.

    >>> ds = Dataset.open("runs/grimm")            # doctest: +SKIP
    >>> ds.main("train")[:10], ds.axis("train", "words")[:10], ds.doc_starts("val")
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from grid_dsl.data.manifest import (MANIFEST, SPLITS, AxisEntry, CorpusEntry, MainEntry, Manifest, PrefixCheck,
                                    ShardEntry, SpecEntry, SplitRule, SplitSize, read_manifest)
from grid_dsl.data.plan import DTYPES, Plan, dtype_for
from grid_dsl.language.diagnostics import UserError

MAIN_FILE = "main.bin"
DOCS_FILE = "docs.bin"
DOCS_DTYPE = "<i8"
RESERVED = {"main": MAIN_FILE, "docs": DOCS_FILE}  # axis names whose files would collide


# ---------------------------------------------------------------- manifest


def library_version() -> str:
    try:
        return metadata.version("multigrid")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def stored_axes(plan: Plan, prefix_check: PrefixCheck | None = None) -> tuple[AxisEntry, ...]:
    """The entries of the axes a dataset stores: the fed axes in feed
    order, or every axis (mode null) when the spec feeds none. A context
    axis's entry records its prefix check (cuts, mismatches, an example)."""
    checked = prefix_check.axes if prefix_check else {}
    if plan.feeds:
        chosen = [(plan.axis(f.axis), f) for f in plan.feeds]
    else:
        chosen = [(axis, None) for axis in plan.axes]
    entries = []
    for axis, feed in chosen:
        if axis.name in RESERVED:
            raise UserError(f"axis {axis.name!r} would be stored as {RESERVED[axis.name]}, which a dataset "
                            f"uses for its {axis.name} stream; rename the axis in the spec")
        entries.append(AxisEntry(
            name=axis.name, kind=axis.kind, vocab=tuple(axis.vocab),
            dtype=feed.dtype if feed else dtype_for(len(axis.vocab)),
            causal=bool(axis.causal), lookahead=str(axis.lookahead),
            mode=feed.mode if feed else None, weight=float(feed.weight) if feed else 1.0,
            dim=feed.dim if feed else None, forced=bool(feed.forced) if feed else False,
            prefix_check=checked.get(axis.name), train_offset=axis.train_offset))
    return tuple(entries)


def main_entry(unit: str, vocab) -> MainEntry:
    return MainEntry(unit, tuple(vocab), dtype_for(len(vocab)))


def make_manifest(plan: Plan, corpus: CorpusEntry, split: SplitRule, main: MainEntry, splits: dict[str, SplitSize],
                  shard: ShardEntry | None = None, prefix_check: PrefixCheck | None = None) -> Manifest:
    """The manifest of a dataset compiled from `plan`."""
    failed = prefix_check.failed if prefix_check else []
    return Manifest(
        spec=SpecEntry(plan.spec_hash, dict(plan.sources)), corpus=corpus, split=split, main=main,
        axes=stored_axes(plan, prefix_check), splits={name: splits[name] for name in SPLITS},
        leaky=bool(plan.leaky or failed), leaky_reason=leaky_reason(plan, failed), prefix_check=prefix_check,
        library={"multigrid": library_version()}, shard=shard)


def leaky_reason(plan: Plan, failed_prefix_check: list[str]) -> str | None:
    """Why no number from this dataset's context axes is a language-model score."""
    reasons = [f"{f.axis} is fed as oracle" + (" (forced context)" if f.forced else "") for f in plan.feeds if f.leaky]
    reasons += [f"{name} failed the prefix check (compiled with --allow-leaks)" for name in failed_prefix_check]
    return "; ".join(reasons) or None


# ------------------------------------------------------------------ reader


class Dataset:
    """A compiled dataset, its streams memory-mapped (nothing is read into
    memory until it is indexed). Open with `Dataset.open(path)`."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self.axes: tuple[AxisEntry, ...] = manifest.axes
        self.main_vocab: tuple = manifest.main.vocab
        self.unit: str = manifest.main.unit
        self._maps: dict[tuple[str, str], np.ndarray] = {}

    @classmethod
    def open(cls, path: str | Path) -> "Dataset":
        """Open and validate a dataset: every stream file present, of the
        size the manifest says (UserError naming the file otherwise)."""
        path = Path(path)
        ds = cls(path, read_manifest(path))
        ds._validate()
        return ds

    # ---- layout
    @property
    def axis_names(self) -> list[str]:
        return [a.name for a in self.axes]

    def tokens(self, split: str) -> int:
        return self.manifest.splits[self._split(split)].tokens

    def documents(self, split: str) -> int:
        return self.manifest.splits[self._split(split)].documents

    def file(self, split: str, stream: str) -> Path:
        """The file of `stream` ("main", "docs" or an axis name) in a split."""
        name = {"main": MAIN_FILE, "docs": DOCS_FILE}.get(stream, f"{stream}.bin")
        return self.path / split / name

    def _streams(self) -> list[tuple[str, str]]:
        """(stream, dtype) of every file in a split, main first."""
        return [("main", self.manifest.main.dtype)] + [(a.name, a.dtype) for a in self.axes]

    def _split(self, split: str) -> str:
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}; a dataset has {' and '.join(SPLITS)}")
        return split

    def _validate(self) -> None:
        for split in SPLITS:
            tokens, documents = self.tokens(split), self.documents(split)
            for stream, dtype in self._streams() + [("docs", DOCS_DTYPE)]:
                if stream != "docs" and dtype not in DTYPES:
                    raise UserError(f"{self.path / MANIFEST}: unknown dtype {dtype!r} for stream {stream!r}")
                expected = (documents if stream == "docs" else tokens) * np.dtype(dtype).itemsize
                self._check_size(self.file(split, stream), expected)
        for split in SPLITS:
            starts = self.doc_starts(split)
            bad = len(starts) and (starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > self.tokens(split))
            if bad:
                raise UserError(f"{self.file(split, 'docs')}: corrupt document offsets (not increasing from 0 "
                                f"within {self.tokens(split)} tokens); compile the dataset again")

    @staticmethod
    def _check_size(file: Path, expected: int) -> None:
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            raise UserError(f"corrupt dataset: {file} is missing; compile the dataset again") from None
        if size != expected:
            raise UserError(f"corrupt dataset: {file} has {size:,} bytes, the manifest says {expected:,}; "
                            "compile the dataset again")

    # ---- streams
    def _map(self, split: str, stream: str, dtype: str) -> np.ndarray:
        key = (self._split(split), stream)
        if key not in self._maps:
            file = self.file(split, stream)
            dtype = np.dtype(dtype).newbyteorder("<")
            if file.stat().st_size == 0:  # numpy cannot map an empty file
                self._maps[key] = np.zeros(0, dtype=dtype)
            else:
                self._maps[key] = np.memmap(file, dtype=dtype, mode="r")
        return self._maps[key]

    def main(self, split: str) -> np.ndarray:
        """The main ids of a split (indices into `main_vocab`), memory-mapped."""
        return self._map(split, "main", self.manifest.main.dtype)

    def axis(self, split: str, name: str) -> np.ndarray:
        """The ids of a stored axis in a split, aligned with `main(split)`."""
        entry = self.manifest.axis(name)
        if entry is None:
            stored = ", ".join(self.axis_names) or "none"
            raise UserError(f"dataset {self.path} has no axis {name!r}; it stores: {stored}")
        return self._map(split, name, entry.dtype)

    def doc_starts(self, split: str) -> np.ndarray:
        """int64 offset of the first position of every document of a split."""
        return self._map(split, "docs", DOCS_DTYPE)

    def decode(self, ids) -> str:
        """Main ids back to text (bytes are decoded as UTF-8, replacing
        the partial characters at the ends of a window)."""
        values = [self.main_vocab[int(i)] for i in ids]
        if self.unit == "bytes":
            return bytes(values).decode("utf-8", errors="replace")
        return "".join(values)

    # ---- checks
    def check_spec(self, plan: Plan) -> None:
        """UserError unless this dataset was compiled from `plan`'s spec."""
        spec = self.manifest.spec
        if spec.hash != plan.spec_hash:
            theirs = list(spec.sources) or ["?"]
            ours = list(plan.sources) or ["?"]
            raise UserError(
                f"dataset {self.path} was compiled from another spec ({theirs[0]}, hash {spec.hash[:12]}) "
                f"than {ours[0]} (hash {plan.spec_hash[:12]}); compile it again: "
                f"`multigrid compile {ours[0]} CORPUS --out {self.path}`")

    def verify(self, chunk: int = 1 << 24) -> None:
        """Read every stream once (in chunks) and check that every id is in
        its vocabulary: catches corruption that keeps file sizes."""
        vocab_sizes = {"main": len(self.main_vocab)} | {a.name: len(a.vocab) for a in self.axes}
        for split in SPLITS:
            for stream, _ in self._streams():
                data = self.main(split) if stream == "main" else self.axis(split, stream)
                for lo in range(0, len(data), chunk):
                    top = int(data[lo : lo + chunk].max())
                    if top >= vocab_sizes[stream]:
                        raise UserError(f"corrupt dataset: {self.file(split, stream)} holds id {top}, beyond its "
                                        f"vocabulary of {vocab_sizes[stream]}; compile the dataset again")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s} {self.tokens(s):,}" for s in SPLITS)
        return f"<Dataset {self.path}: {self.unit} ({sizes}), axes: {', '.join(self.axis_names) or 'none'}>"
