"""A loop's improve.json: the typed, versioned record of its settings and decisions.

`multigrid improve` (model/experiments/improve.py) writes it after round 0
and after every round; a rerun resumes from it and is refused when its
settings differ. `equal-compute` (costs.py), the rediscovery check and the
summary read it by attribute, never the JSON by key, so a file edited badly
fails where it is read, naming the file and the bad value.

Version rule (as metrics.json's): FORMAT names the shape; a change of shape
bumps it. Fields added while it stayed "multigrid-improve/1" have defaults,
so an older loop still reads (a setting it did not record ran with its
default).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from grid_dsl.data.files import write_json_atomically
from grid_dsl.data.records import Record, VersionedRecord

FORMAT = "multigrid-improve/1"
FILE = "improve.json"


@attrs.frozen
class Settings(Record):
    """What the loop runs with (`multigrid improve`'s options)."""

    spec: str
    corpus: str
    rounds: int
    seeds: int
    steps: int = 2000  # of the first model
    candidate_steps: int = 300  # of each expansion, candidate and control alike
    proposers: tuple[str, ...] = ("clusters", "surprisal", "lexemes")
    teacher: str | None = None  # the teacher proposer's stronger run
    min_gain: float = 0.001  # the long-range proposers' bits/char over their shuffled control
    clusters: int = 8
    max_depth: int = 4
    sample: int = 4000
    max_candidates: int = 4  # per round, in the proposers' order
    val_fraction: float = 0.1
    data_seed: int = 0
    overrides: tuple[str, ...] = ()  # training config keys


@attrs.frozen
class Measured(Record):
    """A candidate as measured: its runs and its control's, and the decision."""

    name: str
    proposer: str
    description: str
    spec: str  # the current spec plus the candidate's axis
    data: str
    runs: tuple[str, ...]  # the candidate's run of each seed
    bpc: tuple[float, ...]  # their validation bpc_joint
    control_bpc: tuple[float, ...]  # the shuffled control's, seed by seed
    accepted: bool  # passed the rule (improve.decide); the round keeps the best that passed
    gain: float  # mean paired gain in bits/char (control - candidate), > 0 is better
    lower: float  # one-sided 95% lower confidence bound of the mean gain
    noise: float  # seed-to-seed standard deviation of the control's bpc_joint
    reason: str
    prefix_checked: str = "-"  # the referee's positions/mismatches over the seeds


@attrs.frozen
class Round(Record):
    """A finished round: every candidate, why others were skipped, the
    current model after it (the accepted candidate's seed-0 run, or the
    one before)."""

    round: int
    candidates: tuple[Measured, ...]
    failures: tuple[str, ...]
    accepted: str | None  # the accepted candidate's name
    spec: str
    data: str
    run: str
    bpc_joint: float
    declarations: str | None = None  # what the accepted candidate declares, as written
    example: str | None = None  # a passage of validation text drawn with it

    def candidate(self, name: str) -> Measured:
        return next(c for c in self.candidates if c.name == name)

    def decision(self, candidate: Measured) -> str:
        return "accepted" if candidate.name == self.accepted else ("passed" if candidate.accepted else "rejected")


@attrs.frozen
class ImproveState(VersionedRecord):
    FORMAT = FORMAT

    settings: Settings
    rounds: tuple[Round, ...] = ()

    def write(self, out: str | Path) -> None:
        write_json_atomically(Path(out) / FILE, self.to_dict())


def load(out: str | Path) -> ImproveState:
    """The state of the loop in `out`; UserError when it has none or it does
    not read (damaged, edited, another version)."""
    return ImproveState.from_json_file(Path(out) / FILE, "a loop", missing="pass the --out directory of `multigrid improve`",
                                       version_fix="run the loop again with this version into a new --out",
                                       damage_fix="mend the file, or run the loop again into a new --out")
