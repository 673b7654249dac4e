"""Proposers: each reads a trained model and proposes new causal axes, as
complete .axes specs, for the self-improvement loop to try.

    proposers = [PROPOSERS[name](Settings(clusters=8, origin="runs/grid")) for name in PROPOSERS]
    candidates, failures = run_proposers(proposers, net, ds, base_spec_text(ds), np.random.default_rng(0))

A proposer has a `name` and `propose(net, ds, spec_text, rng) -> [Candidate]`;
adding one is a class (model/experiments/proposal.py: the interface and its
Settings) and an entry in PROPOSERS, nothing else. The three here distil the
model itself, through features of its last few characters:

    clusters    k-means clusters of the hidden states after one block, distilled
                into a rules axis by a decision tree over causal conditions
    surprisal   the model's own per-position loss, bucketed into quantiles
                (S0 = most predictable), distilled into rules the same way
    lexemes     the words on which the model's per-character loss is highest, as a
                lexicon shown after the word (causal); and the phrases of 2..ngram
                words, as rules whose window ends after the phrase (a lexicon
                pattern spanning words would not be causal)

and three read what the model cannot see from its window, state from
anywhere earlier in the document or a stronger teacher
(model/experiments/longrange_proposers.py): residual, operators, teacher.

`run_proposers` runs them, catching any error of a proposer, and checks
every candidate (model/experiments/candidates.py): a failing candidate is logged and
returned as a Failure with its reason, never as a candidate.
"""

from __future__ import annotations

import logging
import math
import warnings

import attrs
import numpy as np
import regex

from axes._conditions import MAX_WINDOW
from grid_dsl.data.checker import check
from grid_dsl.language.diagnostics import UserError
from grid_dsl.language.formatter import label as label_text
from grid_dsl.language.formatter import quote
from grid_dsl.language.parser import parse

from model.experiments.candidates import Candidate, CandidateError, Distillation, Failure, check_candidate
from model.experiments.distill import assemble, check_layer, collect, features, unique_name
from model.experiments.distill_tree import NoUsefulSplit, decision_list, fit_tree
from model.experiments.longrange_proposers import OperatorProposer, ResidualProposer, TeacherProposer
from model.experiments.proposal import Proposer, Settings, by_size

log = logging.getLogger(__name__)
_WORD = regex.compile(r"\w+")


# ------------------------------------------------- distilled decision lists


def distilled_rules(proposer: str, ds, spec_text: str, sample, y: np.ndarray, names: list[str], settings: Settings,
                    seed: int, axis: str, what: str) -> Candidate:
    """A rules axis predicting labels `y` (names[y]) at the sampled positions
    from causal conditions, with its fidelity measured on held-out positions."""
    table = features(ds, spec_text, sample.positions)
    tree, held = fit_tree(table.X, y, max_depth=settings.max_depth, seed=seed)
    try:
        rules = decision_list(tree, table.conditions, names)
    except NoUsefulSplit as err:
        raise CandidateError(f"{proposer}: {err} (try a deeper --max-depth, a larger --sample or another --layer)") from None
    given = rules.labels(table.X)
    expected = np.array(names, dtype=object)[tree.predict(table.X)]
    if not np.array_equal(given, expected):  # the translation is exact by construction; say so loudly if not
        raise AssertionError(f"the rules disagree with the tree at {int(np.sum(given != expected))} positions")
    truth = np.array(names, dtype=object)[y]
    rows = held if len(held) else np.arange(len(y))
    fidelity = float(np.mean(given[rows] == truth[rows]))
    majority = float(max(np.mean(truth[rows] == n) for n in names))
    ruled = float(np.mean(rules.decided(table.X)[rows]))
    reached = sorted(set(lab for _, lab in rules.rules) | {rules.default}, key=names.index)
    name = unique_name(axis, check(parse(spec_text, "<spec>")).names)
    header = [
        f"Distilled by `multigrid distill --proposer {proposer}` from {settings.origin}:",
        f"{what} at {len(y)} sampled positions of the train split of {ds.path},",
        f"predicted by a decision tree (max depth {settings.max_depth}) over causal conditions: the rules axis `{name}`.",
        f"Fidelity: the rules give the {proposer} label at {fidelity:.3f} of {len(rows)} held-out positions "
        f"(the most common label alone: {majority:.3f}).",
        f"Coverage: {len(reached)} of {len(names)} labels; {len(rules.rules)} rules decide {ruled:.3f} of the held-out "
        f"positions, the default ({rules.default}) the rest.",
    ]
    text = assemble(spec_text, header, table.needed_helpers(rules.used()) + [rules.block(name)],
                    [f"{proposer}: {what}"], name)
    stats = {"fidelity": fidelity, "majority": majority, "held_out": int(len(rows)), "rules": len(rules.rules),
             "labels": len(names), "labels_reached": len(reached), "ruled_fraction": ruled, "default": rules.default}
    return Candidate(name, text, proposer, header[3], stats, Distillation(sample, truth, table, tree, rules, rows))


class ClusterProposer(Proposer):
    name = "clusters"

    def propose(self, net, ds, spec_text, rng):
        from sklearn.cluster import KMeans

        s = self.settings
        layer = check_layer(net, s.layer)
        if s.clusters > s.sample:
            raise CandidateError(f"clusters: K={s.clusters} clusters is larger than the sample of {s.sample} positions; "
                                 "use a larger --sample or fewer --clusters")
        seed = int(rng.integers(2**31))
        sample = collect(net, ds, layer=layer, size=s.sample, seed=seed, batch_size=s.batch_size)
        with warnings.catch_warnings():  # fewer distinct states than clusters: judged below, not warned about
            warnings.simplefilter("ignore")
            labels = KMeans(n_clusters=s.clusters, n_init=4, random_state=seed).fit_predict(sample.hidden)
        found = len(np.unique(labels))
        if found < 2:
            raise CandidateError(f"clusters: degenerate clustering: the hidden states after block {layer} form "
                                 f"{found} cluster at {len(labels)} positions (the model may be untrained); "
                                 "try another --layer or a trained run")
        names = [f"C{i}" for i in range(found)]
        what = f"{s.clusters}-means clusters (labels C0..C{found - 1}, C0 the largest) of the hidden states after block {layer}"
        return [distilled_rules(self.name, ds, spec_text, sample, by_size(labels), names, s, seed, f"clusters_l{layer}", what)]


class SurprisalProposer(Proposer):
    name = "surprisal"

    def propose(self, net, ds, spec_text, rng):
        s = self.settings
        seed = int(rng.integers(2**31))
        sample = collect(net, ds, layer=None, size=s.sample, seed=seed, batch_size=s.batch_size, hidden=False)
        edges = np.unique(np.quantile(sample.nll, np.linspace(0, 1, s.clusters + 1)[1:-1]))
        buckets = np.searchsorted(edges, sample.nll, side="right")
        present = np.unique(buckets)
        if len(present) < 2:
            raise CandidateError(f"surprisal: degenerate buckets: the model's loss is the same at all {len(buckets)} "
                                 "sampled positions (is the run trained?)")
        y = np.searchsorted(present, buckets)
        names = [f"S{i}" for i in range(len(present))]
        what = (f"the model's loss on the next character in {len(present)} quantile buckets "
                f"(S0 the most predictable .. S{len(present) - 1} the least)")
        return [distilled_rules(self.name, ds, spec_text, sample, y, names, s, seed, "surprisal", what)]


# ----------------------------------------------------------------- lexemes


@attrs.frozen
class Lexeme:
    text: str  # lowercase: one word, or words joined by single spaces
    count: int  # occurrences in the sample
    bits: float  # mean bits per character of the model's predictions of its characters


class LexemeProposer(Proposer):
    name = "lexemes"

    def mine(self, net, ds, seed: int) -> list[Lexeme]:
        """Every word (and word n-gram) seen at least min_count times whole
        in the sampled windows, by its mean per-character loss, highest first."""
        s = self.settings
        sample = collect(net, ds, layer=None, size=s.sample, seed=seed, batch_size=s.batch_size,
                         contiguous=True, hidden=False)
        half = net.config.block_size - net.config.block_size // 2
        main = ds.main("train")
        totals: dict[str, list] = {}
        for w in range(len(sample.positions) // half):
            first = int(sample.positions[w * half])
            chunk = ds.decode(main[first : first + half + 1])  # char first+1+i was predicted with loss nll[i]
            loss = sample.nll[w * half : (w + 1) * half]
            words = [m.span() for m in _WORD.finditer(chunk) if m.start() >= 1 and m.end() < len(chunk)]
            for n in range(1, s.ngram + 1):
                for group in zip(*(words[i:] for i in range(n))):
                    if any(chunk[a[1] : b[0]] != " " for a, b in zip(group, group[1:])):
                        continue
                    start, end = group[0][0], group[-1][1]
                    entry = totals.setdefault(chunk[start:end].lower(), [0, 0.0, 0])
                    entry[0] += 1
                    entry[1] += float(loss[start - 1 : end - 1].sum())
                    entry[2] += end - start
        ranked = [Lexeme(t, c, nats / chars / math.log(2)) for t, (c, nats, chars) in totals.items() if c >= s.min_count]
        return sorted(ranked, key=lambda x: (-x.bits, x.text))

    def propose(self, net, ds, spec_text, rng):
        s = self.settings
        ranked = self.mine(net, ds, int(rng.integers(2**31)))
        if not ranked:
            raise CandidateError(f"lexemes: no word occurs {s.min_count} times whole in the {s.sample} sampled positions; "
                                 "use a larger --sample")
        taken = check(parse(spec_text, "<spec>")).names
        mean = sum(x.bits * x.count for x in ranked) / sum(x.count for x in ranked)
        words = [x for x in ranked if " " not in x.text][: s.max_lexemes]
        phrases = [x for x in ranked if " " in x.text and len(x.text) + 2 <= MAX_WINDOW][: s.max_lexemes]
        candidates = []
        for chosen, base in ((words, "hard_words"), (phrases, "hard_phrases")):
            if not chosen:
                continue
            name = unique_name(base, taken)
            block, kind, how = _lexeme_axis(name, chosen, phrases=chosen is phrases, longest=s.ngram)
            header = [
                f"Mined by `multigrid distill --proposer lexemes` from {s.origin}: the {len(chosen)} {kind}",
                f"with the highest loss per character, among the {len(ranked)} words and phrases seen whole at least "
                f"{s.min_count} times",
                f"in {s.sample} sampled positions of the train split of {ds.path}: {chosen[-1].bits:.2f}..{chosen[0].bits:.2f} "
                f"bits/char (all of them: {mean:.2f}).",
                how,
            ]
            text = assemble(spec_text, header, [block], [f"lexemes: the {kind} where the model's loss per character is highest"],
                            name)
            stats = {"lexemes": [attrs.asdict(x) for x in chosen], "candidates": len(ranked), "mean_bits": mean}
            description = (f"the {len(chosen)} {kind} of highest loss: {chosen[-1].bits:.2f}..{chosen[0].bits:.2f} "
                           f"bits/char (all {len(ranked)} words and phrases: {mean:.2f})")
            candidates.append(Candidate(name, text, self.name, description, stats))
        return candidates


def _lexeme_axis(name: str, chosen: list[Lexeme], phrases: bool, longest: int) -> tuple[str, str, str]:
    """The axis declaration for `chosen` lexemes, what they are, and how it
    shows them. Words: a lexicon, shown after the word. Phrases: a lexicon
    pattern spanning words would not be causal, so a rules axis whose
    windows end on the character after the phrase."""
    labels: list[str] = []
    for lexeme in chosen:
        labels.append(unique_name(regex.sub(r"\W+", "_", lexeme.text).upper(), labels))
    if not phrases:
        entries = "\n".join(f"    {quote(x.text)} -> {label_text(lab)}" for x, lab in zip(chosen, labels))
        return (f"lexicon {name} (case=insensitive, whole_word, encoding=after) {{\n{entries}\n}}", "words",
                f"The lexicon `{name}` labels the character after each word (whole_word, encoding=after: causal).")
    entries = "\n".join(f"    when window({len(x.text) + 2}) ~ /(?:^|\\W){regex.escape(x.text)}\\W$/i -> {label_text(lab)}"
                        for x, lab in zip(chosen, labels))
    kind = "two-word phrases" if longest == 2 else f"phrases of 2 to {longest} words"
    return (f"rules {name} {{\n{entries}\n}}", kind,
            f"The rules `{name}` label the character after each phrase (a window ending there: causal).")


PROPOSERS: dict[str, type[Proposer]] = {p.name: p for p in (ClusterProposer, LexemeProposer, SurprisalProposer,
                                                            ResidualProposer, OperatorProposer, TeacherProposer)}


# ------------------------------------------------------------------- runner


def run_proposers(proposers, net, ds, spec_text: str, rng: np.random.Generator,
                  report=log.warning) -> tuple[list[Candidate], list[Failure]]:
    """Every proposer's checked candidates, and the failures: a proposer that
    raised, or a candidate that failed a check, each with its reason (also
    passed to `report`, a logging call by default). Nothing a proposer does
    stops the others."""
    candidates, failures = [], []
    for proposer in proposers:
        try:
            found = proposer.propose(net, ds, spec_text, rng)
        except UserError as err:
            failures.append(Failure(proposer.name, None, str(err)))
        except Exception as err:  # noqa: BLE001 -- a crashing proposer is skipped, not fatal to the loop
            failures.append(Failure(proposer.name, None, f"the proposer crashed: {type(err).__name__}: {err}"))
        else:
            for candidate in found:
                try:
                    check_candidate(candidate, ds)
                    candidates.append(candidate)
                except CandidateError as err:
                    failures.append(Failure(proposer.name, candidate.name, str(err)))
                except Exception as err:  # noqa: BLE001
                    failures.append(Failure(proposer.name, candidate.name, f"the check crashed: {type(err).__name__}: {err}"))
    for failure in failures:
        if report is not None:
            report(failure.describe())
    return candidates, failures
