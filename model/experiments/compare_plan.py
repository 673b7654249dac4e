"""A comparison's compare.json: the typed, versioned record of its plan.

`multigrid compare` writes it twice: the settings alone before compiling (so
a rerun after a failed compile is checked against them), then with every
configuration as it will train (its name, its data, its TrainConfig, and
what --flops, --probe-steps or --match-params did to it). A rerun with other
settings is refused; the report and the result tables read the plan by
attribute, never the JSON by key, so a file edited badly fails where it is
read, naming the file and the bad value.

Version rule (as metrics.json's): FORMAT names the shape; a change of shape
bumps it. Fields added while it stayed "multigrid-compare/1" have defaults,
so an older plan still reads.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from grid_dsl.data.files import write_json_atomically
from grid_dsl.data.records import Record, VersionedRecord
from grid_dsl.language.diagnostics import UserError

from model.network.config import TrainConfig

FORMAT = "multigrid-compare/1"
FILE = "compare.json"


@attrs.frozen
class SpecRef(Record):
    """A compared spec: its name (the file's stem) and the hash of its text."""

    name: str
    hash: str


@attrs.frozen
class Settings(Record):
    """What a comparison was run with; a rerun must give the same."""

    corpus: str
    specs: tuple[SpecRef, ...]
    baseline: bool
    seeds: int
    steps: int | None
    max_time: float | None
    val_fraction: float
    data_seed: int
    sweep: dict[str, tuple[str, ...]]  # key -> the values as given
    config: dict  # the base TrainConfig's plain values (before the sweep)
    flops: float | None = None
    probe_steps: int | None = None
    match_params: str | None = None

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config, where=f"{FILE} settings")


@attrs.frozen
class Matched(Record):
    """What --match-params did: `key` from `from_` to `to`."""

    by: str  # width | depth
    key: str  # n_embd | n_layer
    from_: int = attrs.field(metadata={"key": "from"})
    to: int
    unmatched_parameters: int
    baseline_parameters: int


@attrs.frozen
class FlopsPlan(Record):
    """What --flops F chose: the steps whose estimated FLOPs come closest to F."""

    per_char: float
    per_step: float
    steps: int
    total: float


@attrs.frozen
class ProbePlan(Record):
    """What --probe-steps N measured: the max_iters that fit `share` of --max-time."""

    steps: int
    seconds_per_step: float
    seconds_per_eval: float
    share: float
    max_iters: int


@attrs.frozen
class Configuration(Record):
    """One configuration as it trains: seed i runs in runs/<name>/seed<i>."""

    name: str
    spec: str | None  # None: the baseline
    data: str  # its dataset, relative to the comparison's folder
    sweep: dict[str, str]  # its point of the sweep, values as given
    config: dict  # its TrainConfig's plain values (seed: the first seed's)
    parameters: int
    baseline: str | None = None  # the name of the baseline it is paired with
    matched: Matched | None = None
    flops: FlopsPlan | None = None
    probe: ProbePlan | None = None

    @property
    def train_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.config, where=f"{FILE} configuration {self.name!r}")


@attrs.frozen
class ComparePlan(VersionedRecord):
    FORMAT = FORMAT

    settings: Settings
    configurations: tuple[Configuration, ...] | None = None  # None: written before compiling

    def write(self, out: str | Path) -> None:
        write_json_atomically(Path(out) / FILE, self.to_dict())


def load(out: str | Path, *, planned: bool = False) -> ComparePlan:
    """The plan of the comparison in `out`; UserError when it has none, it
    does not read (damaged, edited, another version) or, with `planned`, the
    comparison stopped before planning its configurations."""
    path = Path(out) / FILE
    plan = ComparePlan.from_json_file(path, "a comparison", missing="pass the --out directory of a `multigrid compare`",
                                      version_fix="run it again with this version into a new --out",
                                      damage_fix="mend the file, or run the comparison again into a new --out")
    if planned and plan.configurations is None:
        raise UserError(f"{path}: the comparison stopped before planning its configurations (while compiling); "
                        "rerun its command to plan and train them")
    return plan
