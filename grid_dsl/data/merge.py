"""Joining the shards of a sharded compile into one dataset.

    multigrid compile SPEC CORPUS --out shards/0 --shard 0/2    # e.g. array job 0
    multigrid compile SPEC CORPUS --out shards/1 --shard 1/2    # e.g. array job 1
    multigrid merge shards/0 shards/1 --out DIR

`merge_shards` checks that the shards are 0..N-1 of one compile (same spec,
corpus, split options, axes, multigrid version and shard count, each index
once), unions their main vocabularies, remaps each shard's main ids into the
union and concatenates the streams and document offsets in shard order. The
result is byte-identical to compiling the corpus unsharded (see
grid_dsl.data.build, "Shards"). It is written atomically (grid_dsl.data.staging) and
streamed: memory is bounded by a copy step, not by the shards.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import attrs
import numpy as np
from tqdm import tqdm

from grid_dsl.data.build import rewrite_stream
from grid_dsl.data.summary import Summary
from grid_dsl.data.dataset import DOCS_DTYPE, DOCS_FILE, MAIN_FILE, Dataset, main_entry
from grid_dsl.data.manifest import (MANIFEST, SPLITS, AxisCheck, Manifest, PrefixCheck, ShardEntry, SplitSize,
                                    dumps_manifest)
from grid_dsl.data.staging import check_target, staged
from grid_dsl.language.diagnostics import UserError

COPY_BYTES = 1 << 22  # bytes per step when an axis stream is copied


def merge_shards(shard_dirs: Sequence[str | Path], out: str | Path, progress: bool = False) -> Summary:
    """Join the shards 0..N-1 of one compile into the dataset that compiling
    unsharded gives (byte for byte)."""
    out = Path(out)
    started = time.perf_counter()
    if not shard_dirs:
        raise UserError("merge: name the shard directories to join")
    shards = sorted((Dataset.open(d) for d in shard_dirs), key=lambda ds: _shard_of(ds).index)
    first = shards[0]
    _check_shards(shards)
    unit = first.unit
    if unit == "chars":
        codes = np.unique(np.array([ord(c) for ds in shards for c in ds.main_vocab], dtype=np.int64))
        vocab = [chr(c) for c in codes.tolist()]
    else:
        codes, vocab = None, list(range(256))
    main = main_entry(unit, vocab)
    check_target(out)
    total = sum(os.path.getsize(ds.file(split, stream))
                for ds in shards for split in SPLITS for stream in ["main", "docs", *ds.axis_names])
    with staged(out) as tmp, tqdm(total=total, unit="B", unit_scale=True, desc="merging",
                                  disable=None if progress else True, leave=False) as bar:
        splits = {}
        for split in SPLITS:
            (tmp / split).mkdir()
            tokens = documents = 0
            with open(tmp / split / MAIN_FILE, "wb") as main_out, open(tmp / split / DOCS_FILE, "wb") as docs_out:
                for ds in shards:
                    lookup = None
                    if codes is not None:
                        table = np.searchsorted(codes, [ord(c) for c in ds.main_vocab])
                        lookup = lambda ids, table=table: table[ids]  # noqa: E731
                    rewrite_stream(ds.file(split, "main"), ds.manifest.main.dtype, main_out, main.dtype, lookup)
                    docs_out.write((ds.doc_starts(split) + tokens).astype(DOCS_DTYPE).tobytes())
                    tokens += ds.tokens(split)
                    documents += ds.documents(split)
            for name in first.axis_names:
                with open(tmp / split / f"{name}.bin", "wb") as axis_out:
                    for ds in shards:
                        with open(ds.file(split, name), "rb") as src:
                            shutil.copyfileobj(src, axis_out, COPY_BYTES)
            bar.update(sum(os.path.getsize(p) for p in (tmp / split).iterdir()))
            splits[split] = SplitSize(tokens, documents)
        manifest = _merge_prefix_checks(attrs.evolve(first.manifest, shard=None, main=main, splits=splits),
                                        [ds.manifest for ds in shards])
        (tmp / MANIFEST).write_text(dumps_manifest(manifest), encoding="utf-8")
    return Summary(out, manifest, seconds=time.perf_counter() - started, megabytes=total / 1e6)


def _merge_prefix_checks(manifest: Manifest, shards: list[Manifest]) -> Manifest:
    """`manifest` with the whole corpus's prefix check: the shards' cuts
    added up, an axis failing when it failed in any shard."""
    checks = [m.prefix_check for m in shards if m.prefix_check]
    if not checks:
        return manifest
    axes: dict[str, AxisCheck] = {}
    for check in checks:
        for name, result in check.axes.items():
            total = axes.get(name, AxisCheck(0, 0, None))
            axes[name] = AxisCheck(total.cuts + result.cuts, total.mismatches + result.mismatches,
                                   total.example or result.example)
    merged = PrefixCheck(cuts=sum(c.cuts for c in checks), documents=sum(c.documents for c in checks),
                         allow_leaks=any(c.allow_leaks for c in checks), axes=axes)
    reasons = dict.fromkeys(part for m in shards if m.leaky_reason for part in m.leaky_reason.split("; "))
    return attrs.evolve(manifest, prefix_check=merged,
                        axes=tuple(attrs.evolve(a, prefix_check=axes.get(a.name)) for a in manifest.axes),
                        leaky=any(m.leaky for m in shards), leaky_reason="; ".join(reasons) or None)


def _shard_of(ds: Dataset) -> ShardEntry:
    shard = ds.manifest.shard
    if shard is None:
        raise UserError(f"{ds.path} is a whole dataset, not a shard (compile shards with --shard I/N)")
    return shard


def _check_shards(shards: list[Dataset]) -> None:
    def compared(m: Manifest) -> dict:
        return {
            "spec": m.spec.hash,  # the same spec may have been read from another path
            "corpus": m.corpus,
            "split options": m.split,
            "axes": [attrs.evolve(a, prefix_check=None) for a in m.axes],  # each shard checked its own documents
            "multigrid version": m.library,
        }

    first = shards[0].manifest
    count = first.shard.count
    for ds in shards[1:]:
        ours, theirs = compared(ds.manifest), compared(first)
        for what in ours:
            if ours[what] != theirs[what]:
                raise UserError(f"{ds.path} and {shards[0].path} are shards of different compiles "
                                f"(their {what} differ); merge shards of one compile")
        if ds.manifest.main.unit != first.main.unit or ds.manifest.shard.count != count:
            raise UserError(f"{ds.path} and {shards[0].path} are shards of different compiles "
                            f"(shard counts {ds.manifest.shard.count} and {count})")
    indices = [ds.manifest.shard.index for ds in shards]
    if indices != list(range(count)):
        missing = sorted(set(range(count)) - set(indices))
        doubled = sorted({i for i in indices if indices.count(i) > 1})
        problems = ([f"missing shard(s) {', '.join(map(str, missing))}"] if missing else []) + \
                   ([f"shard(s) {', '.join(map(str, doubled))} given twice"] if doubled else [])
        detail = "; ".join(problems)
        raise UserError(f"merge needs shards 0..{count - 1} of {count}, each once: {detail}")
