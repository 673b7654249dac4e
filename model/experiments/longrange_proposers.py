"""The proposers that read what a model cannot see from its window: state
from anywhere earlier in the document, and a stronger teacher.

    residual    where the model is wrong the same way: a regression tree on its
                residuals (one-hot of the next character minus its prediction)
                over long-range features (model/experiments/longrange.py) and
                the characters, each leaf named by the character it
                under-predicts; a rules axis
    operators   each long-range operator over the spec's axes and the
                built-in groupings, ranked by the information it gives about
                the next character beyond the model's prediction; the best
                ones, each an axis fed as context
    teacher     k-means clusters of a stronger teacher's hidden states (a run
                on the same dataset with a longer block, or trained longer)
                where it beats the student, distilled into a rules axis over
                long-range features by a decision tree

Every candidate faces a control before it is proposed: the information its
labels give about the next character beyond the model (the model's
predictions recalibrated per label, longrange.recalibrated_bits, fitted on
one half of the sampled positions and scored on the other) must exceed, by
`min_gain` bits/char and with a one-sided 99% bound above zero, the same for
a control whose long-range features are shuffled among the positions that
share their last few characters (longrange.local_shuffle: what a feature
says about the window stays, what it says beyond goes): for an operator,
its own labels; for rules, a tree fitted with every long-range column
shuffled so. A corpus with no long-range signal gives no candidate:
CandidateError with the best figures found. A proposed candidate is then
checked like any other (run_proposers: parses, canonical, causal,
prefix-stable, aligned).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import attrs
import numpy as np
import regex

from grid_dsl.data.checker import check
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.parser import parse

from model.experiments.candidates import Candidate, CandidateError, Distillation
from model.experiments.distill import Sample, assemble, unique_name
from model.experiments.distill_tree import NoUsefulSplit, decision_list
from model.experiments.longrange import (LongRange, Scores, cross_fitted_bits, gain_over, halves, long_range,
                                         local_shuffle, long_range_features, operator_values, recalibrated_bits,
                                         sample_positions, score)
from model.experiments.proposal import Proposer, Settings, by_size

CONFIDENCE = 0.99
NAMED_CHARS = {" ": "SPACE", "\n": "NEWLINE", "\t": "TAB"}
MAX_RESIDUAL_CHARS = 48  # the most frequent next characters whose residuals the tree fits


def _operators(spec_text: str, proposer: str) -> LongRange:
    lr = long_range(spec_text)
    if not lr.operators:
        raise CandidateError(f"{proposer}: no long-range operator is causal over this spec")
    return lr


# ---------------------------------------------------------------- operators


@attrs.frozen
class Ranked:
    name: str
    gain: float  # bits/char beyond the model (over a constant feature)
    control: float  # the same for the operator's labels shuffled
    lower: float  # one-sided lower bound of gain - control


def by_information(ranked: list) -> list:
    """Operators by what each tells beyond its shuffled control, highest first.
    Not by the gain alone: the recalibration's own noise (more cells, fewer
    positions in each) costs an operator and its shuffled copy alike, and can
    make both negative where the difference is real."""
    return sorted(ranked, key=lambda r: (-(r.gain - r.control), r.name))


class OperatorProposer(Proposer):
    name = "operators"

    def rank(self, net, ds, spec_text: str, seed: int) -> tuple[LongRange, list[Ranked], int]:
        """Every operator by the information it gives about the next
        character beyond the model, highest first (module docstring), and
        the number of positions it was measured at."""
        s = self.settings
        lr = _operators(spec_text, self.name)
        positions = sample_positions(ds, s.sample, seed)
        scores = score(net, ds, positions, batch_size=s.batch_size)
        values = operator_values(ds, lr, positions)
        folds = halves(len(positions), seed)
        shuffle = local_shuffle(ds, positions, np.random.default_rng(seed + 1))
        plain = cross_fitted_bits(scores.probs, scores.target, np.zeros(len(positions), np.int64), folds)
        alpha = (1 - CONFIDENCE) / len(lr.operators)  # one test per operator (Bonferroni)
        ranked = []
        for d in lr.operators:
            f = values[d.name]
            bits = cross_fitted_bits(scores.probs, scores.target, f, folds)
            shuffled = cross_fitted_bits(scores.probs, scores.target, f[shuffle], folds)
            ranked.append(Ranked(d.name, float(np.mean(plain - bits)), float(np.mean(plain - shuffled)),
                                 gain_over(shuffled, bits, alpha).lower))
        return lr, by_information(ranked), len(positions)

    def propose(self, net, ds, spec_text, rng):
        s = self.settings
        lr, ranked, n = self.rank(net, ds, spec_text, int(rng.integers(2**31)))
        passed = [r for r in ranked if r.gain - r.control >= s.min_gain and r.lower > 0]
        if not passed:
            best = ranked[0]
            raise CandidateError(f"operators: no long-range operator tells the next character more than its shuffled "
                                 f"control by {s.min_gain} bits/char: the best, {best.name}, gives {best.gain - best.control:+.4f} over "
                                 f"it ({best.gain:+.4f}, shuffled {best.control:+.4f}; lower bound of the difference "
                                 f"{best.lower:+.4f}) at {n} positions; a larger --sample narrows the bound")
        table = ", ".join(f"{r.name} {r.gain:+.4f}" for r in ranked[:6])
        candidates = []
        for r in passed[: s.top]:
            d = lr.operator(r.name)
            rank = ranked.index(r) + 1
            header = [
                f"Mined by `multigrid distill --proposer operators` from {s.origin}: the long-range operator `{r.name}`",
                f"({d.what}), ranked {rank} of {len(ranked)} by the information it gives about the next character beyond",
                f"the model: {r.gain:+.4f} bits/char at {n} positions of the train split of {ds.path}",
                f"(the model recalibrated per label, fitted and scored on halves), its shuffled control "
                f"{r.control:+.4f}, {CONFIDENCE:.0%} lower bound of the difference {r.lower:+.4f}.",
                f"The best: {table}.",
            ]
            text = assemble(spec_text, header, lr.declarations([r.name]), [f"operators: {d.what}"], r.name)
            stats = {"gain": r.gain, "control": r.control, "lower": r.lower, "rank": rank, "positions": n,
                     "ranking": [attrs.asdict(x) for x in ranked]}
            description = (f"{d.what}: {r.gain:+.4f} bits/char beyond the model (shuffled {r.control:+.4f}), "
                           f"rank {rank} of {len(ranked)}")
            candidates.append(Candidate(r.name, text, self.name, description, stats))
        return candidates


# ------------------------------------------------ rules against the control


def distil_long_range(proposer: str, ds, spec_text: str, lr: LongRange, scores: Scores, grow, names: list[str],
                      settings: Settings, seed: int, axis: str, what: str, truth: np.ndarray) -> Candidate:
    """A rules axis from the tree `grow(X, rows)` fits on the feature rows
    `rows` (long-range features and characters), whose classes are
    `names`; proposed only when its labels tell the next character more
    than those of the same fit with the long-range columns shuffled (module
    docstring). Tree and recalibration are fitted on one half of the
    positions, measured on the other. `truth`: what the tree was fitted to,
    in words, per position (kept for inspection)."""
    table, long = long_range_features(ds, lr, scores.positions)
    fit, held = halves(len(scores.positions), seed)
    tree = grow(table.X, fit)
    try:
        rules = decision_list(tree, table.conditions, names)
    except NoUsefulSplit as err:
        raise CandidateError(f"{proposer}: {err} (try a deeper --max-depth or a larger --sample)") from None
    labels = tree.predict(table.X)
    if not np.array_equal(rules.labels(table.X), np.array(names, dtype=object)[labels]):
        raise AssertionError("the rules disagree with the tree")  # exact by construction; say so loudly if not
    used = sorted(rules.used())
    if not any(long[i] for i in used):
        raise CandidateError(f"{proposer}: the rules read no long-range feature (only "
                             f"{', '.join(table.conditions[i].text for i in used)}): they restate what the model "
                             "sees in its window")
    control = table.X.copy()
    control[:, long] = table.X[local_shuffle(ds, scores.positions, np.random.default_rng(seed + 1))][:, long]
    control_labels = grow(control, fit).predict(control)
    bits = recalibrated_bits(scores.probs, scores.target, labels, fit, held)
    control_bits = recalibrated_bits(scores.probs, scores.target, control_labels, fit, held)
    plain = recalibrated_bits(scores.probs, scores.target, np.zeros(len(labels), np.int64), fit, held)
    gain, beyond = gain_over(control_bits, bits, 1 - CONFIDENCE), float(np.mean(plain - bits))
    if gain.mean < settings.min_gain or gain.lower <= 0:
        raise CandidateError(f"{proposer}: nothing long-range found: the rules tell the next character "
                             f"{gain.mean:+.4f} bits/char more than a control with the long-range features shuffled "
                             f"({CONFIDENCE:.0%} lower bound {gain.lower:+.4f}; needed: {settings.min_gain} and > 0) "
                             f"at {len(held)} held-out positions")
    ruled = float(np.mean(rules.decided(table.X)[held]))
    name = unique_name(axis, check(parse(lr.text, "<operators>")).names)
    reads = sorted({table.conditions[i].subject for i in used} & lr.long)
    header = [
        f"Distilled by `multigrid distill --proposer {proposer}` from {settings.origin}:",
        f"{what}, at {len(labels)} sampled positions of the train split of {ds.path},",
        f"by a decision tree (max depth {settings.max_depth}) over long-range causal features and the characters: "
        f"the rules axis `{name}`, reading {', '.join(reads)}.",
        f"Beyond the model: its labels tell the next character {beyond:+.4f} bits/char at {len(held)} held-out "
        f"positions, {gain.mean:+.4f} more than the same fit with the long-range features shuffled "
        f"({CONFIDENCE:.0%} lower bound {gain.lower:+.4f}).",
        f"Coverage: {len(rules.rules)} rules decide {ruled:.3f} of the held-out positions, the default "
        f"({rules.default}) the rest.",
    ]
    mentioned = {w for i in used for w in regex.findall(r"\w+", table.conditions[i].text)}
    declarations = lr.declarations(mentioned) + table.needed_helpers(set(used)) + [rules.block(name)]
    text = assemble(spec_text, header, declarations, [f"{proposer}: {what}"], name)
    stats = {"gain": gain.mean, "lower": gain.lower, "beyond_model": beyond, "held_out": int(len(held)),
             "rules": len(rules.rules), "ruled_fraction": ruled, "reads": reads, "default": rules.default}
    description = (f"rules reading {', '.join(reads)}: {gain.mean:+.4f} bits/char beyond the model over the shuffled "
                   f"control ({CONFIDENCE:.0%} lower bound {gain.lower:+.4f})")
    sample = Sample(scores.positions, scores.starts, scores.nll, scores.hidden, -1)
    return Candidate(name, text, proposer, description, stats, Distillation(sample, truth, table, tree, rules, held))


# ----------------------------------------------------------------- residual


def leaf_size(n: int) -> int:
    """The fewest positions a leaf may hold: few enough for a rare long-range
    event (a leaf per value of its state), not so few that leaves fit noise."""
    return max(5, min(20, n // 200))


def char_label(char: str) -> str:
    """A label naming a character: NEXT_a, NEXT_SPACE, NEXT_U003F."""
    if char in NAMED_CHARS:
        return f"NEXT_{NAMED_CHARS[char]}"
    return f"NEXT_{char}" if char.isascii() and char.isalnum() else f"NEXT_U{ord(char):04X}"


@attrs.frozen
class LabelledTree:
    """A regression tree whose leaves carry class labels, read as
    distill_tree.decision_list reads a classifier (`tree_`, `classes_`,
    `predict`)."""

    regressor: object
    leaf_label: np.ndarray  # int [n_nodes]: the class of each leaf (0 elsewhere)
    n_classes: int

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    @property
    def tree_(self):
        t = self.regressor.tree_
        value = np.eye(self.n_classes)[self.leaf_label][:, None, :]  # one-hot: the argmax is the label
        return SimpleNamespace(children_left=t.children_left, children_right=t.children_right, feature=t.feature,
                               n_node_samples=t.n_node_samples, value=value)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.leaf_label[self.regressor.apply(X)]


def residual_tree(X, rows, scores: Scores, chars: np.ndarray, *, max_depth: int, seed: int, threshold: float):
    """A regression tree fitted at `rows` to the model's residuals on the
    next character (one-hot of it minus the predicted distribution, over
    `chars`: a split pays where the model is wrong the same way), each
    leaf labelled 1 + i where char i is under-predicted there by more than
    `threshold` on average (the largest), else 0."""
    from sklearn.tree import DecisionTreeRegressor

    residuals = (scores.target[rows, None] == chars[None, :]) - scores.probs[rows][:, chars]
    regressor = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=leaf_size(len(rows)), random_state=seed)
    regressor.fit(X[rows], residuals)
    mean = regressor.tree_.value[:, :, 0]  # [n_nodes, len(chars)]: the mean residual in each node
    labels = np.where(mean.max(axis=1) > threshold, 1 + mean.argmax(axis=1), 0)
    labels[regressor.tree_.children_left != -1] = 0
    return LabelledTree(regressor, labels, 1 + len(chars))


class ResidualProposer(Proposer):
    name = "residual"

    def propose(self, net, ds, spec_text, rng):
        s = self.settings
        lr = _operators(spec_text, self.name)
        seed = int(rng.integers(2**31))
        scores = score(net, ds, sample_positions(ds, s.sample, seed), batch_size=s.batch_size)
        chars, counts = np.unique(scores.target, return_counts=True)
        chars = chars[np.argsort(-counts, kind="stable")][:MAX_RESIDUAL_CHARS]
        names = ["SAME"] + [char_label(ds.main_vocab[int(c)]) for c in chars]

        def grow(X, rows):
            return residual_tree(X, rows, scores, chars, max_depth=s.max_depth, seed=seed, threshold=s.residual)

        what = (f"where the model is wrong the same way: a regression tree on its residuals (one-hot of the next "
                f"character minus its prediction), each leaf labelled by the character it under-predicts by more "
                f"than {s.residual} on average (NEXT_x; SAME where none is)")
        truth = np.array([char_label(ds.main_vocab[int(c)]) for c in scores.target], dtype=object)
        return [distil_long_range(self.name, ds, spec_text, lr, scores, grow, names, s, seed, "residual", what, truth)]


# ------------------------------------------------------------------ teacher


def load_teacher(path: str | None, ds):
    """The teacher's checkpoint and the dataset columns it reads; a
    UserError naming --teacher when it is missing or does not fit `ds`."""
    from model.network import checkpoint

    fix = ("pass --teacher RUN, a run trained on the same dataset that sees more: e.g. `multigrid train --data DIR "
           "--out runs/teacher block_size=256` (4x the block) or 5x the steps")
    if not path:
        raise UserError(f"the teacher proposer needs a teacher: {fix}")
    try:
        state = checkpoint.load(path)
        columns = checkpoint.check_data(state, ds, same_spec=False, file=checkpoint.resolve(path))
    except UserError as err:
        raise UserError(f"--teacher {path}: {err}") from None
    if checkpoint.reads_leaky(state.data.axes):
        raise UserError(f"--teacher {path}: the teacher reads a leaky axis (oracle or not causal): its states "
                        "would hold what the text does not say yet; use a teacher with honest context")
    return state, columns


class TeacherProposer(Proposer):
    name = "teacher"

    def propose(self, net, ds, spec_text, rng):
        from sklearn.cluster import KMeans

        s = self.settings
        state, columns = load_teacher(s.teacher, ds)
        teacher = state.network().to(next(net.parameters()).device)
        lr = _operators(spec_text, self.name)
        seed = int(rng.integers(2**31))
        positions = sample_positions(ds, s.sample, seed)
        student = score(net, ds, positions, batch_size=s.batch_size)
        taught = score(teacher, ds, positions, columns=columns, hidden=True, batch_size=s.batch_size)
        better = student.nll - taught.nll >= s.margin
        if better.sum() < max(2 * s.clusters, 10):
            raise CandidateError(f"teacher: the teacher ({s.teacher}, block {teacher.config.block_size}) beats the "
                                 f"student (block {net.config.block_size}) by {s.margin} nats at only {int(better.sum())} "
                                 f"of {len(positions)} sampled positions; train the teacher longer or on a longer block")
        with warnings.catch_warnings():  # fewer distinct states than clusters: fewer labels, renumbered
            warnings.simplefilter("ignore")
            clusters = KMeans(n_clusters=s.clusters, n_init=4, random_state=seed).fit_predict(taught.hidden[better])
        y = np.zeros(len(positions), dtype=np.int64)
        y[better] = 1 + by_size(clusters)
        names = ["SAME"] + [f"C{i}" for i in range(int(y.max()))]

        def grow(X, rows):
            from sklearn.tree import DecisionTreeClassifier

            tree = DecisionTreeClassifier(max_depth=s.max_depth, min_samples_leaf=leaf_size(len(rows)), random_state=seed)
            return tree.fit(X[rows], y[rows])

        what = (f"{len(names) - 1}-means clusters (C0 the largest) of the hidden states of the teacher {s.teacher} "
                f"(block {teacher.config.block_size}) where its loss is {s.margin} nats below the student's "
                f"({int(better.sum())} positions; SAME elsewhere)")
        # measured against the student's predictions: what the teacher knows and the student does not
        return [distil_long_range(self.name, ds, spec_text, lr, student, grow, names, s, seed, "teacher", what,
                                  np.array(names, dtype=object)[y])]
