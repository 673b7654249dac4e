"""Distillation, part 2: a decision tree over causal conditions, written as
an ordered decision list of the spec language.

    tree, held_out = fit_tree(features.X, labels, max_depth=4, seed=0)
    rules = decision_list(tree, features.conditions, names)    # DecisionList
    print(rules.block("latent"))                               # rules latent { when ... -> C3 ... default -> C0 }

The features are binary (a condition holds or not), so each split of the
tree is one condition: the left child is "not COND", the right child "COND".
The translation, each step exact (the rules give tree.predict's label at
every position of any text, which the tests check):

1. Merge: a node whose two children are leaves of the same label becomes a
   leaf (the tree split where its class proportions changed, not its label).
2. Default: the label of the most leaves (ties: of the most training
   positions) is the `default`; its leaves need no rule.
3. Order: one `when` per remaining leaf, written depth first. Where one child
   of a split is a leaf with a rule, that rule is written before the other
   child's rules, which then drop the split's condition: a position that
   satisfies it was already taken by the leaf's rule.
4. Simplify each conjunction: a condition that pins its subject to one value
   (`char[-1] == "a"`, `upos == NOUN`, `position(words) == 0`) decides every
   other test of that subject, which is dropped; a character class decides
   tests of the characters outside it, of the classes containing it and of
   the classes that share no character with it.
"""

from __future__ import annotations

import attrs
import numpy as np
from sklearn.tree import DecisionTreeClassifier

from axes._conditions import CHAR_CLASSES
from grid_dsl.language.formatter import label as label_text

# Classes that contain another for every character (the regex module's Unicode properties).
_CONTAINS = {"upper": {"letter"}, "lower": {"letter"}, "vowel": {"letter"}, "consonant": {"letter"},
             "letter": {"alnum"}, "digit": {"alnum"}, "alnum": {"word"}, "newline": {"space"}}


# Classes that share no character; classes inside them are disjoint too. (Not word
# and punct: "_" is both.)
_DISJOINT = {frozenset(pair) for pair in (
    ("upper", "lower"), ("vowel", "consonant"), ("letter", "digit"), ("letter", "punct"), ("letter", "symbol"),
    ("digit", "punct"), ("digit", "symbol"), ("punct", "symbol"), ("word", "space"), ("punct", "space"),
    ("symbol", "space"))}


def _disjoint(a: str, b: str) -> bool:
    return any(frozenset((x, y)) in _DISJOINT for x in _supersets(a) | {a} for y in _supersets(b) | {b})


def _supersets(name: str) -> set[str]:
    """Every class that contains class `name` (transitively), itself excluded."""
    out, todo = set(), list(_CONTAINS.get(name, ()))
    while todo:
        c = todo.pop()
        if c not in out:
            out.add(c)
            todo += _CONTAINS.get(c, ())
    return out


class NoUsefulSplit(ValueError):
    """The tree predicts one label everywhere."""


# ---------------------------------------------------------------- fitting


def fit_tree(X: np.ndarray, y: np.ndarray, *, max_depth: int, seed: int, held_out: float = 0.2):
    """A tree fitted on a seeded random (1 - held_out) of the rows, and the
    indices of the held-out rows it is measured on."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_held = int(round(held_out * len(y))) if len(y) >= 10 else 0
    held, fit = np.sort(order[:n_held]), np.sort(order[n_held:])
    leaf = max(1, min(20, len(fit) // 50))  # leaves of a few positions would only fit noise
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf, random_state=seed)
    tree.fit(X[fit], y[fit])
    return tree, held


# ------------------------------------------------------------ translation


@attrs.frozen
class Leaf:
    label: str
    count: int  # training positions that reach it


@attrs.frozen
class Split:
    condition: int  # column of the feature tested
    false: object  # Leaf | Split
    true: object


@attrs.frozen
class DecisionList:
    rules: tuple  # ((literal, ...), label): a literal is (condition index, holds)
    default: str
    conditions: tuple  # the Condition of each feature column

    def used(self) -> set[int]:
        return {i for literals, _ in self.rules for i, _ in literals}

    def rule_text(self, literals) -> str:
        return " and ".join(self.conditions[i].text if holds else f"not {self.conditions[i].text}"
                            for i, holds in literals)

    def block(self, name: str) -> str:
        lines = [f"    when {self.rule_text(lits)} -> {label_text(lab)}" for lits, lab in self.rules]
        return "\n".join([f"rules {name} {{", *lines, f"    default -> {label_text(self.default)}", "}"])

    def labels(self, X: np.ndarray) -> np.ndarray:
        """The list's label at each row of feature matrix X (first rule that
        holds; the default where none does): what the compiled axis gives."""
        return self._apply(X)[0]

    def decided(self, X: np.ndarray) -> np.ndarray:
        """Which rows a rule decides (the others get the default)."""
        return self._apply(X)[1]

    def _apply(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.full(len(X), self.default, dtype=object)
        decided = np.zeros(len(X), dtype=bool)
        for literals, lab in self.rules:
            hit = ~decided
            for i, holds in literals:
                hit &= X[:, i] == holds
            out[hit], decided = lab, decided | hit
        return out, decided


def _structure(tree, names) -> Leaf | Split:
    """The fitted tree as Leaf/Split nodes, same-label sibling leaves merged."""
    t = tree.tree_

    def build(node: int):
        if t.children_left[node] == -1:
            return Leaf(names[int(tree.classes_[int(np.argmax(t.value[node, 0]))])], int(t.n_node_samples[node]))
        false, true = build(t.children_left[node]), build(t.children_right[node])
        if isinstance(false, Leaf) and isinstance(true, Leaf) and false.label == true.label:
            return Leaf(false.label, false.count + true.count)
        return Split(int(t.feature[node]), false, true)

    return build(0)


def _leaves(node) -> list[Leaf]:
    return [node] if isinstance(node, Leaf) else _leaves(node.false) + _leaves(node.true)


def decision_list(tree, conditions, names) -> DecisionList:
    """The tree as rules (module docstring); `names[c]` is the label of
    class c. NoUsefulSplit when the tree gives one label everywhere."""
    root = _structure(tree, names)
    leaves = _leaves(root)
    if isinstance(root, Leaf):
        raise NoUsefulSplit(f"the tree found no useful split: it gives every position the label {root.label}")
    tally: dict[str, list[int]] = {}
    for leaf in leaves:
        entry = tally.setdefault(leaf.label, [0, 0])
        entry[0] += 1
        entry[1] += leaf.count
    default = max(tally, key=lambda lab: tuple(tally[lab]))
    rules = []

    def emit(node, path: tuple) -> None:
        if isinstance(node, Leaf):
            if node.label != default:
                rules.append((simplify(path, conditions), node.label))
            return
        ruled = [(child, holds) for child, holds in ((node.true, True), (node.false, False))
                 if isinstance(child, Leaf) and child.label != default]
        if ruled:  # that leaf first; the other child then needs no test of this condition
            child, holds = ruled[0]
            emit(child, path + ((node.condition, holds),))
            emit(node.false if holds else node.true, path)
        else:
            emit(node.false, path + ((node.condition, False),))
            emit(node.true, path + ((node.condition, True),))

    emit(root, ())
    return DecisionList(tuple(rules), default, tuple(conditions))


def simplify(literals: tuple, conditions) -> tuple:
    """The literals without those the others decide (module docstring, 4).
    Every literal of a rule is satisfiable together (a leaf was reached by
    training positions), so a decided literal is always true: drop it."""
    kept = []
    for i, holds in literals:
        c = conditions[i]
        if not any(_decides(conditions[j], h, c, holds) for j, h in literals if j != i) and (i, holds) not in kept:
            kept.append((i, holds))
    return tuple(kept)


def _decides(a, a_holds: bool, b, b_holds: bool) -> bool:
    """Does literal (a, a_holds) make literal (b, b_holds) redundant?"""
    if a.subject != b.subject:
        return False
    if a_holds and a.op == "==":
        return True  # one value: every other test of the subject is decided
    if a.op != "is" or b.op not in ("is", "=="):
        return False
    inside = (lambda ch: CHAR_CLASSES[a.value].fullmatch(ch) is not None)
    if a_holds:  # char is A: `char == x` for x outside A is false, classes containing A true, classes apart false
        return ((b.op == "==" and not b_holds and not inside(b.value))
                or (b.op == "is" and b_holds and b.value in _supersets(a.value))
                or (b.op == "is" and not b_holds and _disjoint(a.value, b.value)))
    # not char is A: `char == x` for x inside A is false; classes inside A are false
    return not b_holds and ((b.op == "==" and inside(b.value)) or (b.op == "is" and a.value in _supersets(b.value)))
