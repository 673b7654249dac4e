"""Compiling a corpus into a dataset.

    multigrid compile SPEC CORPUS --out DIR [--val-fraction F] [--seed S]
                      [--workers N] [--shard I/N] [--encoding E] [--errors H]

The layout written is described in `grid_dsl.data.dataset`. How it is written:

* Split. A corpus of several documents is split by documents: a seeded
  random choice of round(F * D) of the D documents (at least one, never all,
  when F > 0) is validation. It is decided from document indices and the
  seed alone, so every worker count and every sharding agrees. A corpus of
  one document is split contiguously, nanoGPT-style: the last F of its main
  stream is validation (compiled whole, then cut, so the streams are those
  of the whole document).
* Per document. Each document is compiled on its own (`compile_text`), so
  documents can be compiled in any grouping: chunks of documents go to
  `--workers` processes and the results are written in corpus order, which
  makes the output of N workers byte-identical to that of one. Before the
  pool forks, the parent compiles a short text once, so that what axes load
  lazily (NLTK models) is loaded once and shared by the workers.
* Streaming. Results are appended to the stream files as they come, with at
  most 2 chunks per worker in flight; a chunk is a run of documents of about
  1M characters at most. The main vocabulary (the sorted distinct characters
  of the whole corpus) is only known at the end, so character code points
  are first written as uint32 to a temporary file, then mapped to ids in a
  second streaming pass. Peak memory is bounded by a chunk and the largest
  document, not by the corpus (as far as the corpus source streams: a
  single .txt file is read whole). The corpus is read four times: its
  fingerprint, a survey (document count and sizes, for the split and the
  progress bar), the compile pass, and its fingerprint again.
* Shards. `--shard I/N` (I = 0..N-1, e.g. a cluster array job's task id)
  compiles documents [I*D//N, (I+1)*D//N) only, with the split of the whole
  corpus. A shard is a valid dataset with its own main vocabulary and a
  "shard" entry in its manifest; `multigrid merge` (grid_dsl.data.merge) joins
  the shards into the dataset compiling unsharded gives, byte for byte.
  The ranges need the document count, so every shard still reads (and
  fingerprints) the whole corpus, compiling only its own range.
* Atomic (grid_dsl.data.staging). Everything is written into a temporary
  directory beside DIR (`.DIR.tmp-HOST-PID-<random>`) that is renamed to DIR
  at the end, so DIR is complete or absent; a failed or interrupted compile
  removes its temporary directory, and a killed one's is removed by the
  next compile of DIR.
* Incremental. When DIR holds a dataset compiled by this version of
  multigrid from the same spec (hash), corpus (fingerprint), split options
  and shard, compiling again prints that it is up to date and does nothing.
  Otherwise the whole dataset is compiled again (no per-axis reuse: any
  change of the spec can change the main stream or an axis's inputs) and
  replaces DIR atomically; the old dataset stays until the new one is whole.
  A DIR that exists but is not a dataset (no manifest.json, not empty) is
  never replaced: that is a user error.
* Prefix check (grid_dsl.data.prefix_check). Every axis a `context` feed reads
  is compiled again from prefixes of the documents, cut where the corpus-wide
  choice of cuts says (so shards check between them what the whole compile
  checks), in the worker that compiled the document, and compared with it.
  A disagreement is a UserError naming the axis, document and position,
  unless `allow_leaks`: then the manifest records it and says `leaky`.
* Errors a user can cause raise UserError (exit 2): a corpus that changes
  while it is compiled (fingerprint or document count differ before and
  after), a full disk (ENOSPC) or another write error, a bad --shard or
  --val-fraction, an axis named `main` or `docs` (its file would collide);
  nothing is left half-written.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import signal
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import attrs
import numpy as np
from tqdm import tqdm

from grid_dsl.data import prefix_check
from grid_dsl.data.compiler import compile_text
from grid_dsl.data.corpora import Corpus
from grid_dsl.data.dataset import (DOCS_DTYPE, DOCS_FILE, MAIN_FILE, library_version, main_entry, make_manifest,
                                   stored_axes)
from grid_dsl.data.manifest import (MANIFEST, SPLITS, AxisEntry, CorpusEntry, Manifest, ShardEntry, SplitRule,
                                    SplitSize, dumps_manifest)
from grid_dsl.data.plan import Plan
from grid_dsl.language.diagnostics import UserError, did_you_mean
from grid_dsl.data.staging import check_target, staged
from grid_dsl.data.summary import Summary

CODES_FILE = "main.codes"  # uint32 code points before the main-vocabulary pass
TASK_CHARS = (1 << 14, 1 << 20)  # bounds of the characters per chunk of documents
IN_FLIGHT = 2  # chunks in flight per worker
COPY_ITEMS = 1 << 22  # array elements per step of the streaming passes
OPENINGS = 8  # documents whose openings continue the prefix check's cuts
WARM_UP_TEXT = "Once upon a time, a king said: \"Go!\" The end.\n\nMore."


@attrs.frozen
class Shard:
    """Shard `index` (0-based) of `count`: a contiguous range of documents."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        parts = text.split("/")
        try:
            index, count = (int(p) for p in parts)
        except ValueError:
            raise UserError(f"--shard {text!r}: write I/N, e.g. --shard 0/4 for the first of 4 shards") from None
        if count < 1 or not 0 <= index < count:
            raise UserError(f"--shard {text!r}: the shard index counts from 0 and must be below N "
                            f"(0..{max(count, 1) - 1})")
        return cls(index, count)

    def bounds(self, documents: int) -> tuple[int, int]:
        return documents * self.index // self.count, documents * (self.index + 1) // self.count

    def entry(self, documents: int) -> ShardEntry:
        return ShardEntry(self.index, self.count, self.bounds(documents))


# ------------------------------------------------------------------- split


def choose_split(documents: int, val_fraction: float, seed: int) -> tuple[SplitRule, np.ndarray]:
    """The manifest's split entry and, per document, whether it is validation
    (all False for a contiguous split, decided inside the one document)."""
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction {val_fraction}: must be at least 0 and below 1")
    is_val = np.zeros(documents, dtype=bool)
    method = "contiguous" if documents == 1 else "documents"
    if method == "documents" and val_fraction > 0:
        count = min(max(round(val_fraction * documents), 1), documents - 1)
        is_val[np.random.default_rng(seed).permutation(documents)[:count]] = True
    return SplitRule(method, float(val_fraction), seed), is_val


def contiguous_cut(tokens: int, val_fraction: float) -> int:
    """Where the validation tail of a one-document corpus starts."""
    return tokens - round(val_fraction * tokens)


# ---------------------------------------------------------------- workers

_WORKER: dict = {}


def _init_worker(plan: Plan, axes: list[tuple[str, str]], check: prefix_check.CorpusCheck | None) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool and
    # cleans up; a worker stopping on its own would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(plan=plan, axes=axes, check=check)


def _compile_in_worker(docs):
    return compile_chunk(_WORKER["plan"], _WORKER["axes"], docs, _WORKER["check"])


def compile_chunk(plan: Plan, axes: list[tuple[str, str]], docs: list[tuple],
                  check: prefix_check.CorpusCheck | None = None,
                  advance: Callable[[float], object] | None = None) -> tuple[list[tuple], np.ndarray]:
    """Compile documents [(index, text, annotations)] to [(index, main,
    [axis ids in `axes` order and dtypes], characters, UTF-8 bytes,
    prefix-check mismatches, cuts checked)], with the distinct main values
    of the chunk. `advance(chars)` reports progress as it goes: a share of a
    document's characters after each axis and after its prefix check, so
    the bar moves while a single-file corpus compiles."""
    out = []
    for index, text, layers in docs:
        step = len(text) / (len(plan.axes) + 1)
        on_axis = (lambda: advance(step)) if advance else None
        grid = compile_text(plan, text, layers, name=str(index), on_axis=on_axis)
        streams = [grid.ids(name).astype(dtype, copy=False) for name, dtype in axes]
        found, cuts = check.run(index, text, layers, grid) if check else ([], 0)
        if advance:
            advance(len(text) - step * len(plan.axes))
        out.append((index, grid.main, streams, len(text), len(text.encode("utf-8", "surrogatepass")), found, cuts))
    distinct = np.unique(np.concatenate([r[1] for r in out])) if out else np.zeros(0, np.uint32)
    return out, distinct


def _chunks(corpus: Corpus, lo: int, hi: int, task_chars: int, seen: list) -> Iterator[list[tuple]]:
    """Documents lo..hi-1 of the corpus in runs of about task_chars
    characters; `seen[0]` counts the documents read."""
    batch, size = [], 0
    for index, doc in enumerate(corpus.documents()):
        if index >= hi:
            break
        seen[0] = index + 1
        if index < lo:
            continue
        batch.append((index, doc.text, doc.annotations))
        size += len(doc.text)
        if size >= task_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _compiled(chunks: Iterator[list], plan: Plan, axes: list, workers: int, check: prefix_check.CorpusCheck | None,
              bar: tqdm) -> Iterator[tuple]:
    """Compile the chunks in order, in this process (the bar advancing axis
    by axis) or in a pool of workers with a bounded number of chunks in
    flight (the bar advancing as each chunk comes back)."""
    if workers == 1:
        for chunk in chunks:
            yield compile_chunk(plan, axes, chunk, check, advance=bar.update)
        return
    # Load what axes load lazily (NLTK models, plug-in taggers) once, before
    # forking: the workers share it instead of each loading its own copy.
    compile_text(plan, WARM_UP_TEXT)
    with multiprocessing.Pool(workers, initializer=_init_worker, initargs=(plan, axes, check)) as pool:
        pending = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_compile_in_worker, (chunk,)))
            if len(pending) >= IN_FLIGHT * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


# ----------------------------------------------------------------- writing


class SplitWriter:
    """Appends documents to the stream files of one split."""

    def __init__(self, folder: Path, unit: str, axes: Sequence[AxisEntry]):
        folder.mkdir()
        self.folder, self.unit = folder, unit
        self.main_file = folder / (CODES_FILE if unit == "chars" else MAIN_FILE)
        self.files = [open(self.main_file, "wb")] + [open(folder / f"{a.name}.bin", "wb") for a in axes]
        self.dtypes = ["<u4" if unit == "chars" else "u1"] + ["<" + np.dtype(a.dtype).str[1:] for a in axes]
        self.docs = open(folder / DOCS_FILE, "wb")
        self.tokens = self.documents = 0

    def add(self, main: np.ndarray, streams: Sequence[np.ndarray], new_document: bool = True) -> None:
        if new_document:
            self.docs.write(np.array([self.tokens], dtype=DOCS_DTYPE).tobytes())
            self.documents += 1
        for file, dtype, array in zip(self.files, self.dtypes, [main, *streams]):
            file.write(np.ascontiguousarray(array, dtype=dtype).data)
        self.tokens += len(main)

    def close(self) -> None:
        for file in self.files + [self.docs]:
            file.close()

    def finish(self, vocab_codes: np.ndarray, dtype: str) -> None:
        """Close the files and map the code points to main ids (chars)."""
        self.close()
        if self.unit == "chars":
            lookup = lambda codes: np.searchsorted(vocab_codes, codes)  # noqa: E731
            rewrite_stream(self.main_file, "<u4", self.folder / MAIN_FILE, dtype, lookup)
            self.main_file.unlink()


def rewrite_stream(source: Path, source_dtype: str, target, dtype: str, fn=None) -> None:
    """Stream `source` into `target` (a path, or an open file to append
    to), applying fn to each piece, with bounded memory (plain reads, not a
    memory map, so the pages read do not stay in this process)."""
    opened = open(target, "wb") if isinstance(target, Path) else contextlib.nullcontext(target)
    with open(source, "rb") as src, opened as dst:
        while True:
            piece = np.fromfile(src, dtype=source_dtype, count=COPY_ITEMS)
            if not len(piece):
                break
            dst.write(np.ascontiguousarray(fn(piece) if fn else piece, dtype="<" + np.dtype(dtype).str[1:]).data)


# --------------------------------------------------------------- compiling


def survey(corpus: Corpus, plan: Plan | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """The length in characters of every document, and the openings of the
    first few (the prefix check's continuations), in one pass; with `plan`,
    a UserError when the corpus has annotations but none of a layer an
    annotation axis reads (a misspelt layer would otherwise compile empty)."""
    openings: list[str] = []
    layers: set[str] = set()

    def length(doc) -> int:
        if len(openings) < OPENINGS:
            openings.append(doc.text[: prefix_check.CONTINUATION_CHARS])
        layers.update(doc.annotations or ())
        return len(doc.text)

    lengths = np.fromiter((length(doc) for doc in corpus.documents()), dtype=np.int64)
    if not len(lengths):
        raise UserError(f"corpus {corpus.name} has no documents")
    wanted = {getattr(a, "layer") for a in (plan.axes if plan else ()) if a.kind == "annotation"}
    missing = sorted(wanted - layers)
    if layers and missing:
        close = did_you_mean(missing[0], sorted(layers))
        raise UserError(f"corpus {corpus.name} has no spans of annotation layer {missing[0]!r} (its layers: "
                        f"{', '.join(sorted(layers))}){'; ' + close if close else ''}")
    return lengths, tuple(openings)


def compile_corpus(plan: Plan, corpus: Corpus, out: str | Path, *, val_fraction: float = 0.1, seed: int = 0,
                   workers: int = 1, shard: Shard | None = None, progress: bool = False,
                   check_budget: float | None = None, allow_leaks: bool = False) -> Summary:
    """Compile `corpus` with `plan` into the dataset directory `out` (see the
    module docstring); returns what was done. The prefix check compiles
    about `check_budget` (default prefix_check.DEFAULT_BUDGET) times the
    corpus's characters more; with
    `allow_leaks` its failures mark the dataset leaky instead of stopping."""
    out = Path(out)
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    started = time.perf_counter()
    axes = stored_axes(plan)
    fingerprint = corpus.fingerprint()
    existing = check_target(out)
    if existing and existing.manifest and _same_compile(existing.manifest, plan, fingerprint, val_fraction, seed,
                                                        shard, allow_leaks):
        return Summary(out, existing.manifest, up_to_date=True)

    lengths, openings = survey(corpus, plan)
    split, is_val = choose_split(len(lengths), val_fraction, seed)
    lo, hi = shard.bounds(len(lengths)) if shard else (0, len(lengths))
    unit = plan.main.unit
    task_chars = int(np.clip(lengths[lo:hi].sum() // (workers * 16), *TASK_CHARS)) if workers > 1 else TASK_CHARS[1]
    seen, megabytes = [0], 0.0
    budget = prefix_check.DEFAULT_BUDGET if check_budget is None else check_budget
    check = prefix_check.plan_corpus_check(plan, lengths, openings, lo, hi, budget, seed)
    found, cuts = [], 0
    labelled = np.zeros(len(axes), dtype=bool)
    distinct = np.zeros(0, dtype=np.uint32)
    with staged(out) as tmp, contextlib.ExitStack() as open_files:
        writers = {}
        for name in SPLITS:
            writers[name] = SplitWriter(tmp / name, unit, axes)
            open_files.callback(writers[name].close)
        with tqdm(total=int(lengths[lo:hi].sum()), unit="char", unit_scale=True, desc=f"compiling {corpus.name}",
                  disable=None if progress else True, leave=False) as bar:
            chunks = _chunks(corpus, lo, hi, task_chars, seen)
            compiled = _compiled(chunks, plan, [(a.name, a.dtype) for a in axes], workers, check, bar)
            with contextlib.closing(compiled):  # stops the pool on errors
                for results, chunk_distinct in compiled:
                    distinct = np.union1d(distinct, chunk_distinct)
                    for index, main, streams, chars, nbytes, doc_found, doc_cuts in results:
                        _append(writers, split, is_val, index, main, streams)
                        labelled |= np.array([np.any(stream) for stream in streams], dtype=bool)
                        megabytes += nbytes / 1e6
                        found += doc_found
                        cuts += doc_cuts
                        if workers > 1:
                            bar.update(chars)
        checked = check.report(found, cuts, allow_leaks) if check else None
        vocab = [chr(c) for c in distinct.tolist()] if unit == "chars" else list(range(256))
        main = main_entry(unit, vocab)
        for writer in writers.values():
            writer.finish(distinct, main.dtype)
        _check_unchanged(corpus, fingerprint, seen[0], hi)
        splits = {name: SplitSize(w.tokens, w.documents) for name, w in writers.items()}
        corpus_entry = CorpusEntry(corpus.name, fingerprint, len(lengths))
        manifest = make_manifest(plan, corpus_entry, split, main, splits, shard.entry(len(lengths)) if shard else None,
                                 prefix_check=checked)
        (tmp / MANIFEST).write_text(dumps_manifest(manifest), encoding="utf-8")
    return Summary(out, manifest, seconds=time.perf_counter() - started, megabytes=megabytes,
                   unlabelled=tuple(a.name for a, seen in zip(axes, labelled) if not seen),
                   replaced=existing is not None)


def _append(writers: dict, split: SplitRule, is_val: np.ndarray, index: int, main: np.ndarray, streams: list) -> None:
    """Write one compiled document to its split (a contiguous split cuts it)."""
    if split.method == "documents":
        writers["val" if is_val[index] else "train"].add(main, streams)
        return
    cut = contiguous_cut(len(main), split.val_fraction)
    writers["train"].add(main[:cut], [s[:cut] for s in streams])
    if cut < len(main):
        writers["val"].add(main[cut:], [s[cut:] for s in streams])


def _same_compile(manifest: Manifest, plan: Plan, fingerprint: str, val_fraction: float, seed: int,
                  shard: Shard | None, allow_leaks: bool) -> bool:
    shard_there = manifest.shard and Shard(manifest.shard.index, manifest.shard.count)
    return (manifest.spec.hash == plan.spec_hash
            and bool(manifest.prefix_check and manifest.prefix_check.allow_leaks) == allow_leaks
            and manifest.corpus.fingerprint == fingerprint
            and manifest.split.val_fraction == val_fraction
            and manifest.split.seed == seed
            and shard_there == shard
            and manifest.library.get("multigrid") == library_version())


def _check_unchanged(corpus: Corpus, fingerprint: str, seen: int, expected: int) -> None:
    after = corpus.fingerprint()
    if after != fingerprint or seen != expected:
        detail = (f"fingerprint {fingerprint[:12]} before, {after[:12]} after" if after != fingerprint
                  else f"{seen} documents read, {expected} expected")
        raise UserError(f"corpus {corpus.name} changed while it was being compiled ({detail}); nothing was "
                        "written: compile again once it has stopped changing")
