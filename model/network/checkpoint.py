"""Checkpoints: the typed, versioned contract between a run and what reads it.

A checkpoint file is one dict of tensors and plain values (never a pickled
object, so loading one cannot run code), written by `save(Checkpoint)` and
read by `load` (`torch.load(weights_only=True)`), which returns a
`Checkpoint`: nothing reads a checkpoint's dict by key. Its keys, in order:

    format      "multigrid-checkpoint/1" (the version; not a field: see below)
    config      the model's GridConfig as plain values (axes as dicts)
    model       the model's state_dict (config + model are what
                `GridTransformer.checkpoint()` gives; `Checkpoint.network()`
                builds the model again)
    optimizer   the AdamW state_dict (null in a checkpoint kept for inference)
    step        optimizer steps done
    tokens      main positions trained on
    seconds     {"wall": wall time spent training, "eval": of it, evaluating},
                summed over resumes
    best        {"step", "bpc_joint"} of the best evaluation so far (step null
                before the first)
    evaluated_step  the step of the last evaluation (null before the first)
    train_config  the TrainConfig as a dict
    data        DataEntry, what the model's ids mean: {"path", "spec_hash",
                "spec_sources" ({file: text} of the spec and its includes,
                root first: what `multigrid sample` compiles generated text
                with; null in early checkpoints), "corpus" (the manifest's),
                "unit", "main_vocab", "axes": [ModelAxis {"name", "kind",
                "vocab", "mode", "weight", "dim", "causal", "prefix_failed"}]
                (the model's axes, in model order), "leaky"}
    frozen      names of the parameters that do not train (`multigrid expand
                --freeze`); a resumed run keeps them frozen
    rng         {"torch", "cuda", "batches"}: generator states, so a resumed
                run draws the same batches and dropout masks as an unbroken one
    metrics     the last evaluation's numbers (what metrics.json holds: a
                RunMetrics, model/network/metrics.py)

Version rule: FORMAT names the shape; any change of shape bumps its number,
and `load` accepts only FORMAT (and an older version that reads losslessly
into today's fields: none yet). Another version, a missing or unexpected
key or a value of the wrong type is a UserError naming the file.

A run directory holds `ckpt.pt` (the last state) and `best.pt` (the state of
the evaluation with the lowest validation bpc_joint). `check_data` says, as a
UserError, when a dataset's vocabularies do not mean what the checkpoint's
ids mean.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import attrs

from grid_dsl.data.files import write_atomically, write_json_atomically
from grid_dsl.data.manifest import AxisEntry, CorpusEntry
from grid_dsl.data import records
from grid_dsl.data.records import Record
from grid_dsl.language.diagnostics import UserError

from model.network import metrics
from model.network.metrics import RunMetrics

FORMAT = "multigrid-checkpoint/1"
LAST = "ckpt.pt"
BEST = "best.pt"
METRICS = metrics.FILE


@attrs.frozen
class ModelAxis(Record):
    """One axis a model reads: what its ids mean and how it is fed."""

    name: str
    kind: str
    vocab: tuple[str, ...]
    mode: str
    weight: float
    dim: int | None
    causal: bool
    prefix_failed: bool  # the compile-time prefix check found a mismatch (--allow-leaks)

    @classmethod
    def of(cls, entry: AxisEntry) -> "ModelAxis":
        return cls(entry.name, entry.kind, entry.vocab, entry.mode, entry.weight, entry.dim, entry.causal,
                   entry.prefix_failed)


@attrs.frozen
class DataEntry(Record):
    """What the ids of a model mean: the dataset it was trained on."""

    path: str
    spec_hash: str
    spec_sources: dict[str, str] | None
    corpus: CorpusEntry
    unit: str
    main_vocab: tuple[str | int, ...]
    axes: tuple[ModelAxis, ...]
    leaky: bool


@attrs.frozen(kw_only=True)
class Checkpoint(records.VersionedRecord):
    """A run's state (see the module docstring)."""

    FORMAT = FORMAT  # checked first when read, written first (records.VersionedRecord)

    config: dict
    model: dict
    optimizer: dict | None = None
    step: int
    tokens: int
    seconds: dict[str, float]
    best: dict[str, int | float | None]
    evaluated_step: int | None
    train_config: dict
    data: DataEntry
    frozen: tuple[str, ...] = ()
    rng: dict[str, Any]
    metrics: RunMetrics

    def network(self, **config_changes):
        """The model (a GridTransformer, on the CPU), its config changed by
        `config_changes` (e.g. dropout)."""
        from model.network.transformer import GridTransformer

        return GridTransformer.from_checkpoint({"config": {**self.config, **config_changes}, "model": self.model})

    def training(self):
        """The run's TrainConfig (`train_config`, read through its own checks)."""
        from model.network.config import TrainConfig

        return TrainConfig.from_dict(self.train_config, where="checkpoint train_config")

    def grid(self):
        """The network's GridConfig (`config`)."""
        from model.network.transformer import GridConfig

        return GridConfig.from_dict(self.config)


def save(state: Checkpoint, path: str | Path) -> None:
    """Write `state` to `path` through a temporary file in the same folder
    and a rename: `path` holds the old checkpoint or the new one, whole."""
    import torch  # here: the CLI imports this module and must start quickly

    values = state.to_dict()
    write_atomically(path, writer=lambda handle: torch.save(values, handle))


def resolve(path: str | Path, best: bool = False) -> Path:
    """A run directory's checkpoint (ckpt.pt, or best.pt), or a .pt file."""
    path = Path(path)
    if path.is_dir():
        return path / (BEST if best else LAST)
    return path


def load(path: str | Path, best: bool = False) -> Checkpoint:
    """The checkpoint at `path` (a run directory or a .pt file), on the CPU.
    UserError when it is missing, truncated, corrupted, holds pickled
    objects, is not a multigrid checkpoint or is one of another version."""
    import torch

    file = resolve(path, best)
    if not file.is_file():
        where = f"; {path} holds no {file.name}" if Path(path).is_dir() else ""
        raise UserError(f"checkpoint not found: {file}{where} (train one with `multigrid train --data DIR --out RUN`)")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise UserError(f"{file} holds pickled Python objects, not only tensors; multigrid never loads a "
                            "checkpoint with full pickle (it could run code)") from None
        raise UserError(f"{file} is corrupted ({first_line(err)}); use another checkpoint, e.g. best.pt") from None
    except Exception as err:  # noqa: BLE001 -- torch.load raises RuntimeError, EOFError, ValueError... on damaged files
        raise UserError(f"{file} is truncated or corrupted ({type(err).__name__}: {first_line(err)}); "
                        "use another checkpoint (best.pt or ckpt.pt of the run) or train again") from None
    return Checkpoint.from_file_values(
        state, file, "a checkpoint",
        version_fix="train the run again with this version, or read it with the version of multigrid that wrote it",
        damage_fix="use another checkpoint (best.pt or ckpt.pt of the run) or train again")


def first_line(err: BaseException) -> str:
    """The first sentence of an error's message (torch's go on at length)."""
    text = str(err).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".") if text else "no message"


# ------------------------------------------------------------- data checks


def reads_leaky(axes, referee=None) -> bool:
    """Whether a model reading these axes (ModelAxis or the manifest's
    AxisEntry) is leaky: one is oracle, non-causal and forced into
    context, or a context axis that failed the compile-time prefix check
    (compiled with --allow-leaks); or the referee (grid_dsl.data.referee)
    found a context label the prefix does not give. The dataset's other
    axes don't count: a baseline on an oracle spec's data reads none of
    them."""
    return any(map(axis_leaky, axes)) or (referee is not None and not referee.ok)


def axis_leaky(axis: ModelAxis | AxisEntry) -> bool:
    """The one definition for one axis a model reads: oracle, or context
    that is not causal (forced) or failed the compile-time prefix check."""
    return axis.mode == "oracle" or (axis.mode == "context" and (not axis.causal or axis.prefix_failed))


def data_entry(ds, axis_names: list[str]) -> DataEntry:
    """What the ids of a model trained on `ds` with `axis_names` mean."""
    axes = tuple(ModelAxis.of(ds.manifest.axis(name)) for name in axis_names)
    return DataEntry(path=str(ds.path), spec_hash=ds.manifest.spec.hash, spec_sources=dict(ds.manifest.spec.sources),
                     corpus=ds.manifest.corpus, unit=ds.unit, main_vocab=tuple(ds.main_vocab), axes=axes,
                     leaky=reads_leaky(axes))


def check_data(state: Checkpoint, ds, *, same_spec: bool, file: str | Path = "the checkpoint") -> list[int]:
    """UserError unless `ds` stores what the checkpoint's model reads, with
    the same vocabularies (and, with `same_spec`, was compiled from the same
    spec). Returns the column of each model axis in the dataset's meta."""
    data, spec_hash = state.data, ds.manifest.spec.hash
    if same_spec and data.spec_hash != spec_hash:
        raise UserError(f"dataset {ds.path} was compiled from another spec (hash {spec_hash[:12]}) "
                        f"than {file} (hash {data.spec_hash[:12]}, dataset {data.path}); resume on a dataset "
                        "compiled from the run's spec, or train a new run")
    if data.unit != ds.unit or list(data.main_vocab) != list(ds.main_vocab):
        difference = vocab_difference(data.main_vocab, ds.main_vocab)
        raise UserError(f"the main vocabulary of dataset {ds.path} ({ds.unit}, {len(ds.main_vocab)} symbols) differs "
                        f"from {file}'s ({data.unit}, {len(data.main_vocab)} symbols{difference}): "
                        "its ids would mean other characters; use the dataset the run was trained on")
    names = ds.axis_names
    columns = []
    for axis in data.axes:
        if axis.name not in names:
            raise UserError(f"{file} reads axis {axis.name!r}, which dataset {ds.path} does not store "
                            f"(it stores: {', '.join(names) or 'no axes'})")
        stored = ds.axes[names.index(axis.name)]
        if list(stored.vocab) != list(axis.vocab):
            raise UserError(f"the vocabulary of axis {axis.name!r} in dataset {ds.path} differs from {file}'s"
                            f"{vocab_difference(axis.vocab, stored.vocab)}; use the dataset the run was trained on")
        columns.append(names.index(axis.name))
    grid = state.grid()
    if grid.loss_mask is not None:  # the model is scored through it: a column after its axes (GridTransformer.align)
        if grid.loss_mask not in names:
            raise UserError(f"{file} is scored on the characters axis {grid.loss_mask!r} labels (its loss mask), which "
                            f"dataset {ds.path} does not store; use the dataset the run was trained on")
        columns.append(names.index(grid.loss_mask))
    if grid.boundary_axis is not None:  # its global blocks read at this axis's boundaries: the last column
        stored = ds.axes[names.index(grid.boundary_axis)] if grid.boundary_axis in names else None
        if stored is None or tuple(stored.vocab) != tuple(grid.boundary_vocab):
            raise UserError(f"{file} reads its boundaries from axis {grid.boundary_axis!r}, which dataset {ds.path} "
                            + ("does not store" if stored is None else "stores with other labels")
                            + "; use the dataset the run was trained on")
        columns.append(names.index(grid.boundary_axis))
    return columns


def vocab_difference(ours: list, theirs: list) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"; first difference at id {i}: {a!r} vs {b!r}"
    if len(ours) != len(theirs):
        return f"; {len(ours)} vs {len(theirs)} entries"
    return ""


# ---------------------------------------------------------- run directory


def check_new_run(out: Path) -> None:
    """UserError when `out` is a file or already holds a run's files."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a directory for the run")
    taken = [p.name for p in (out / LAST, out / BEST, out / METRICS) if p.exists()]
    taken += [p.name for p in out.glob("events.out.tfevents.*")] if out.is_dir() else []
    if taken:
        raise UserError(f"{out} already holds a run ({', '.join(sorted(taken)[:3])}); continue it with --resume, "
                        "or choose another --out")


write_json = write_json_atomically  # the experiments' plans, like the checkpoints and metrics.json
