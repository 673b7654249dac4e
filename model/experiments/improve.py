"""The self-improvement loop: distil the model into axes, add them back, keep what helps.

    multigrid improve --spec S --corpus C --rounds R --seeds N --out DIR   (model/cli/improve.py)

Round 0 compiles S over C and trains the first model (DIR/runs/round_0).
Each round k = 1..R then:

1. proposes candidate axes from the current model (model/experiments/proposers.py:
   clusters, surprisal, lexemes; residual, operators, teacher read long-range
   state); each candidate is the current spec plus
   one causal axis fed as context, already checked (model/experiments/candidates.py);
   a proposer that fails, or a candidate that fails a check, is logged and
   skipped;
2. for each candidate: compiles it over the corpus (same split), and writes
   a **control** dataset, the same streams with the new axis's labels
   shuffled across positions (same labels, same frequencies, no alignment
   with the text: the same number of new parameters, fed noise);
3. for each seed s < N: expands the current model by the new axis (zero
   embeddings: at step 0 it predicts as before, model.network.transformer.expand) and
   trains `candidate_steps` steps on the candidate's data, and the same from
   the same model on the control's data, with training seed s, at the
   learning rate the current model's schedule ended with (no warm-up);
4. accepts the candidate when its honest val bpc_joint beats the control's
   clearly (`decide`): the paired gain g_s = control_s - candidate_s has a
   one-sided 95% lower confidence bound above zero (Student t over the
   seeds) AND a mean larger than the seed-to-seed standard deviation of the
   control (the noise of a run);
5. keeps the accepted candidate with the largest mean gain: its seed-0 run
   becomes the current model and its spec DIR/round_k.axes; when none is
   accepted, the model and spec stay and round_k.axes repeats the spec.

Everything is in DIR: improve.json (the settings, refused when they change,
and every decision: model/experiments/improve_state.py), round_K.axes,
data/, runs/, summary.md (a table of every candidate: proposer, bpc of
candidate and control, gain and its bound, decision, reason; then each
accepted axis as its declarations and a passage of validation text drawn as
`multigrid show` draws it, so a person can read what the loop learnt) and
TensorBoard events in DIR/tb (per-round bpc_joint, each candidate's gain,
its rule text and the decision in TEXT).
Interrupted, the same command resumes: finished runs are skipped, an
unfinished one resumes from its checkpoint, and a round is redone only from
the first step whose result is missing.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import attrs
import numpy as np

from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.files import write_atomically

from model.network import metrics
from model.network.metrics import RunMetrics
from model.training.context import require_honest_context
from model.experiments.report import prefix_checked_cell
from model.experiments.improve_summary import example_passage, new_declarations, summary_table
from model.experiments import improve_state
from model.experiments.improve_state import ImproveState, Measured, Round, Settings


@attrs.frozen
class Decision:
    accepted: bool
    gain: float  # mean paired gain in bits/char (control - candidate), > 0 is better
    lower: float  # one-sided 95% lower confidence bound of the mean gain
    noise: float  # seed-to-seed standard deviation of the control's bpc_joint
    reason: str


def decide(candidate: list[float], control: list[float], confidence: float = 0.95) -> Decision:
    """The acceptance rule of the module docstring, on paired bpc_joint."""
    from scipy import stats

    cand, ctrl = np.asarray(candidate, float), np.asarray(control, float)
    if len(cand) != len(ctrl) or len(cand) < 2:
        raise ValueError("decide needs the same number (>= 2) of candidate and control runs")
    gains = ctrl - cand
    mean, sd, n = float(gains.mean()), float(gains.std(ddof=1)), len(gains)
    lower = mean - float(stats.t.ppf(confidence, n - 1)) * sd / math.sqrt(n)
    noise = float(ctrl.std(ddof=1))
    if lower <= 0:
        reason = f"gain {mean:+.4f} bits/char is not clearly above 0 (95% lower bound {lower:+.4f})"
    elif mean <= noise:
        reason = f"gain {mean:+.4f} bits/char is within the seed-to-seed noise ({noise:.4f})"
    else:
        reason = f"gain {mean:+.4f} bits/char, 95% lower bound {lower:+.4f}, above the noise ({noise:.4f})"
    return Decision(lower > 0 and mean > noise, mean, lower, noise, reason)


def shuffled_control(ds, axis: str, out: Path, seed: int) -> None:
    """A copy of dataset `ds` (to `out`, atomically) whose `axis` stream is
    permuted within each split: the control of a candidate axis."""
    from grid_dsl.data.staging import staged

    rng = np.random.default_rng(seed)
    with staged(out) as tmp:
        for path in ds.path.rglob("*"):
            target = tmp / path.relative_to(ds.path)
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif path.name != f"{axis}.bin":
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        for split in ("train", "val"):
            stream = np.array(ds.axis(split, axis))
            (tmp / split).mkdir(exist_ok=True)
            rng.permutation(stream).tofile(tmp / split / f"{axis}.bin")


def run_state(run: Path) -> str:
    """"done" (metrics.json of a run that reached its end), "partial" (a
    checkpoint to resume) or "new" (nothing usable: start afresh)."""
    done = metrics.read(run)
    if done is not None and done.stopped == "max_iters":
        return "done"
    return "partial" if (run / "ckpt.pt").is_file() else "new"


class Loop:
    """One `multigrid improve` directory: run() does (or resumes) every round."""

    def __init__(self, settings: Settings, out: str | Path, say=print):
        from model.network.config import TrainConfig

        self.settings, self.out, self.say = settings, Path(out), say
        if not 0 < settings.val_fraction < 1:
            raise UserError(f"--val-fraction {settings.val_fraction}: the loop scores candidates on a validation split; "
                            "give a fraction above 0 and below 1")
        if settings.seeds < 2:
            raise UserError("--seeds must be at least 2: a candidate is accepted against the seed-to-seed noise")
        self.config = TrainConfig.load(None, settings.overrides)
        self.state = self._claim()
        self.log = None

    # ---------------------------------------------------------------- state
    def _claim(self) -> ImproveState:
        if (self.out / improve_state.FILE).is_file():
            state = improve_state.load(self.out)  # a setting a loop begun before it did not record: its default
            old, new = state.settings.to_dict(), self.settings.to_dict()
            changed = [key for key in new if old[key] != new[key]]
            if changed:
                raise UserError(f"{self.out} holds a loop with other settings ({', '.join(changed)}); rerun it with "
                                "the same command to resume, or pass another --out")
            return state
        if self.out.exists() and any(self.out.iterdir()):
            raise UserError(f"--out {self.out} is not empty and holds no {improve_state.FILE}; pass a new directory")
        self.out.mkdir(parents=True, exist_ok=True)
        state = ImproveState(self.settings)
        state.write(self.out)
        return state

    # ----------------------------------------------------------------- loop
    def run(self) -> list[dict]:
        from grid_dsl.data.corpora import open_corpus
        from torch.utils.tensorboard import SummaryWriter

        self.corpus = open_corpus(self.settings.corpus)
        self.log = SummaryWriter(str(self.out / "tb"))
        try:
            spec_text, data, run = self.first_round()
            for k in range(1, self.settings.rounds + 1):
                spec_text, data, run = self.round(k, spec_text, data, run)
        finally:
            self.log.close()
        write_atomically(self.out / "summary.md", summary_table(self.state.rounds))
        return self.state.rounds

    def first_round(self):
        from grid_dsl.data.inputs import read_file

        from model.experiments.distill import base_spec_text

        data = self.compile(read_file(self.settings.spec, "spec file"), self.out / "data" / "round_0",
                            where=self.settings.spec)
        require_honest_context(data, "improve")
        text = base_spec_text(data)  # includes inlined: every round_K.axes stands alone
        run = self.out / "runs" / "round_0"
        first = train_resumable(data, run, self.config.replace(max_iters=self.settings.steps))
        write_atomically(self.out / "round_0.axes", text)
        self.log.add_scalar("improve/bpc_joint", first.bpc_joint, 0)
        self.say(f"round 0: {run} val bpc_joint {first.bpc_joint:.4f}")
        return text, data, run

    def round(self, k: int, spec_text: str, data, run: Path):
        if len(self.state.rounds) >= k:  # done before an interruption
            done = self.state.rounds[k - 1]
            return done.spec, self.open(done.data), Path(done.run)
        candidates, failures = self.propose(k, spec_text, data, run)
        results = []
        for i, cand in enumerate(candidates):
            try:
                results.append(self.measure(k, i, cand, run))
            except UserError as err:  # e.g. its compile's prefix check on the whole corpus
                from model.experiments.candidates import Failure

                failures.append(Failure(cand.proposer, cand.name, f"not measured: {err}"))
                self.say(f"round {k}: skipped: {failures[-1].describe()}")
        accepted = [r for r in results if r.accepted]
        best = max(accepted, key=lambda r: r.gain) if accepted else None
        done = {"round": k, "candidates": tuple(results), "failures": tuple(f.describe() for f in failures)}
        if best:
            try:
                example = example_passage(best.spec, best.name, self.open(best.data))
            except UserError as err:  # the summary's picture never costs the round
                example = f"(no example: {err})"
            entry = Round(**done, accepted=best.name, spec=best.spec, data=best.data, run=best.runs[0],
                          bpc_joint=best.bpc[0], declarations=new_declarations(spec_text, best.spec), example=example)
        else:
            entry = Round(**done, accepted=None, spec=spec_text, data=str(data.path), run=str(run),
                          bpc_joint=metrics.load(run).bpc_joint)
        write_atomically(self.out / f"round_{k}.axes", entry.spec)
        self.log.add_scalar("improve/bpc_joint", entry.bpc_joint, k)
        self.log.add_text("improve/decision", f"round {k}: " + (f"accepted `{best.name}`" if best else "no candidate accepted"), k)
        self.say(f"round {k}: " + (f"accepted {best.name} (gain {best.gain:+.4f})" if best else "nothing accepted")
                 + f"; current bpc_joint {entry.bpc_joint:.4f}")
        self.state = attrs.evolve(self.state, rounds=self.state.rounds + (entry,))
        self.state.write(self.out)
        return entry.spec, self.open(entry.data), Path(entry.run)

    def propose(self, k: int, spec_text: str, data, run: Path):
        from model.network import checkpoint
        from model.experiments.proposers import PROPOSERS, Settings as ProposerSettings, run_proposers

        s = self.settings
        net = checkpoint.load(run).network()
        origin = f"{run} (improve round {k})"
        chosen = [PROPOSERS[name](ProposerSettings(clusters=s.clusters, max_depth=s.max_depth, sample=s.sample,
                                                   origin=origin, teacher=s.teacher, min_gain=s.min_gain))
                  for name in s.proposers]
        candidates, failures = run_proposers(chosen, net, data, spec_text, np.random.default_rng([s.data_seed, k]),
                                             report=lambda line: self.say(f"round {k}: skipped: {line}"))
        from model.experiments.candidates import Failure

        for cand in candidates[s.max_candidates:]:  # every candidate not measured is listed, with why
            failures.append(Failure(cand.proposer, cand.name, f"not measured: beyond --max-candidates "
                                                              f"{s.max_candidates} this round"))
            self.say(f"round {k}: skipped: {failures[-1].describe()}")
        self.say(f"round {k}: {min(len(candidates), s.max_candidates)} candidate(s) to measure"
                 + (f", {len(failures)} skipped" if failures else ""))
        return candidates[: s.max_candidates], failures

    def measure(self, k: int, i: int, cand, run: Path) -> Measured:
        """Train candidate and control expansions over the seeds; decide."""
        from model.network import checkpoint
        from model.network.transformer import AxisSpec, expand

        base = self.out / "data" / f"round_{k}"
        data = self.compile(cand.text, base / f"{i}_{cand.name}", where=f"candidate {cand.name}")
        control_dir = base / f"{i}_{cand.name}_control"
        if not (control_dir / "manifest.json").is_file():
            shuffled_control(data, cand.name, control_dir, seed=1000 * k + i)
        control = self.open(control_dir)
        new = [AxisSpec.of(data.manifest.axis(cand.name))]
        state = checkpoint.load(run)
        runs, bpc, control_bpc, checked = [], [], [], []
        for seed in range(self.settings.seeds):
            # continue where the current model's schedule ended: its final learning rate, held
            config = self.config.replace(max_iters=self.settings.candidate_steps, seed=seed, warmup_iters=0,
                                         learning_rate=self.config.learning_rate * self.config.min_lr_fraction,
                                         min_lr_fraction=1.0,
                                         axes=",".join([a.name for a in state.data.axes] + [cand.name]))
            for ds, kind, scores in ((data, "candidate", bpc), (control, "control", control_bpc)):
                grown = expand(state.network(), new)
                target = self.out / "runs" / f"round_{k}" / f"{i}_{cand.name}" / f"{kind}_seed{seed}"
                trained = train_resumable(ds, target, config, init_model=grown)
                scores.append(trained.bpc_joint)
                if kind == "candidate":
                    runs.append(str(target))
                    checked.append(trained)
        decision = decide(bpc, control_bpc)
        tag = f"round_{k}/{cand.name}"
        self.log.add_scalar(f"candidates/{tag}/gain", decision.gain, k)
        self.log.add_text(f"candidates/{tag}", f"{cand.description}\n\n    " + cand.text.replace("\n", "\n    ")
                          + f"\n\n**{'accepted' if decision.accepted else 'rejected'}**: {decision.reason}", k)
        self.say(f"round {k}: {cand.name} ({cand.proposer}): {'accepted' if decision.accepted else 'rejected'}, "
                 f"{decision.reason}")
        return Measured(name=cand.name, proposer=cand.proposer, description=cand.description, spec=cand.text,
                        data=str(data.path), runs=tuple(runs), bpc=tuple(bpc), control_bpc=tuple(control_bpc),
                        prefix_checked=prefix_checked_cell(checked), **attrs.asdict(decision))

    # -------------------------------------------------------------- helpers
    def compile(self, text: str, out: Path, where: str):
        from grid_dsl.data.build import compile_corpus
        from grid_dsl.data.checker import check
        from grid_dsl.language.parser import parse

        plan = check(parse(text, where if Path(where).is_file() else f"<{where}>"))
        compile_corpus(plan, self.corpus, out, val_fraction=self.settings.val_fraction, seed=self.settings.data_seed)
        return self.open(out)

    @staticmethod
    def open(path):
        from grid_dsl.data.dataset import Dataset

        return Dataset.open(path)


def train_resumable(ds, run: Path, config, init_model=None) -> RunMetrics:
    """Train `run`, or resume it, or read its metrics when it is done."""
    from model.training.train import train

    status = run_state(run)
    if status == "done":
        return metrics.load(run)
    # The loop and equal-compute train for many minutes: say which run, and
    # show its progress (a bar on a terminal, a line every 30 s otherwise).
    print(f"training {run} ({config.max_iters:,} steps{', resumed' if status == 'partial' else ''})",
          file=sys.stderr, flush=True)
    if status == "partial":
        return train(ds, run, config, resume=True, progress=True)
    shutil.rmtree(run, ignore_errors=True)  # a run killed before its first checkpoint
    return train(ds, run, config, init_model=init_model, progress=True)
