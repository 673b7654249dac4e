"""A run's metrics.json: the typed, versioned record of its last evaluation.

`multigrid train` writes it after every evaluation (and the checkpoint keeps
a copy, so a resumed run goes on with its history); compare, report, the
loop, the cost and wall-clock tools read it. They read a `RunMetrics`, by
attribute, never the JSON by key: a file edited badly, or written by
another version, fails where it is read, naming the file and the bad value.

Version rule (as the checkpoint's): FORMAT names the shape; a change of
shape bumps it. Fields added while the format stayed "multigrid-metrics/1"
have defaults, so a run written before them still reads (a score it did not
record is None: nan in the tables).
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs

from grid_dsl.data.files import write_json_atomically
from grid_dsl.data.records import Record, VersionedRecord
from grid_dsl.language.diagnostics import UserError

FORMAT = "multigrid-metrics/1"
FILE = "metrics.json"


@attrs.frozen
class Evaluation(Record):
    """One point of the learning curve (`RunMetrics.history`)."""

    step: int
    wall_time_s: float
    bpc_joint: float
    bpc_main: float
    flops: float | None = None  # estimated training FLOPs so far (model/network/flops.py)


@attrs.frozen
class Best(Record):
    """The evaluation with the lowest validation bpc_joint (best.pt)."""

    step: int
    bpc_joint: float


@attrs.frozen
class EvalSetup(Record):
    """The fixed batches every evaluation scores."""

    batches: int
    batch_size: int
    block_size: int
    seed: int
    positions: int


@attrs.frozen
class ReadAxis(Record):
    """An axis the model reads, and whether it is honest to read it."""

    name: str
    kind: str
    mode: str
    weight: float
    causal: bool


@attrs.frozen
class PrefixCheck(Record):
    """The referee's result (grid_dsl.data.referee): context labels recomputed from the text's prefix."""

    positions: int
    mismatches: int
    axes: tuple[str, ...]
    example: str | None


@attrs.frozen(kw_only=True)
class RunMetrics(VersionedRecord):
    """Validation scores of the last evaluation (on the fixed batches,
    unweighted), the run's cost so far, and its learning curve."""

    FORMAT = FORMAT

    leaky: bool
    label: str  # "honest", or the LEAKY label every report prints beside a leaky number
    bpc_main: float
    bpc_joint: float
    bits: dict[str, float]  # bits per scored position: "main" and each predict axis
    val_loss: dict[str, float]  # nats, the same keys
    train_loss: dict[str, float]
    # the same fixed batches drawn from the train split: far below val, the model has overfitted its corpus
    train_bpc_joint: float | None = None
    train_bpc_main: float | None = None
    step: int
    stopped: str  # "running", "max_iters", "max_time", "interrupted", ...
    tokens: int
    tokens_per_s: float
    flops_per_char: float | None = None  # estimated training FLOPs (forward + backward) per position
    flops: float | None = None  # and in all so far
    # hierarchical runs: the share of positions the global blocks read, and of boundaries beyond the cap
    boundary_rate: float | None = None
    global_dropped: float | None = None
    wall_time_s: float
    parameters: int
    axes: tuple[ReadAxis, ...]
    prefix_checked: PrefixCheck | None = None
    loss_mask: str | None = None  # scores count only the characters this axis labels (a task's answers)
    best: Best | None
    eval: EvalSetup
    data: str
    spec_hash: str
    processes: int
    device: str
    config: dict  # the TrainConfig as plain values
    history: tuple[Evaluation, ...] = ()  # every evaluation, restored on --resume

    def finished(self, max_iters: int) -> bool:
        """Whether the run spent its budget: `max_iters` steps, or its --max-time."""
        return self.stopped == "max_time" or (self.stopped == "max_iters" and self.step >= max_iters)

    def write(self, run_dir: str | Path) -> None:
        write_json_atomically(Path(run_dir) / FILE, self.to_dict())


def or_nan(value: float | None) -> float:
    """nan for a figure a run did not record (written before it was), so a
    table's mean over runs shows it missing instead of failing."""
    return math.nan if value is None else value


def load(run_dir: str | Path) -> RunMetrics:
    """The metrics of the run in `run_dir`; UserError when it has none or
    they do not read (damaged, edited, another version)."""
    return RunMetrics.from_json_file(
        Path(run_dir) / FILE, "metrics", missing="pass a run directory that `multigrid train` (or expand) finished",
        version_fix="train the run again with this version",
        damage_fix="resume the run (`--resume`) to write it again, or train it again")


def read(run_dir: str | Path) -> RunMetrics | None:
    """Like `load`, but None when there is nothing usable yet: for the
    resumable experiments, which train again (or resume) a run without them."""
    try:
        return load(run_dir)
    except UserError:
        return None
