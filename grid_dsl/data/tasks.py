"""Algorithmic task corpora: seeded, generated offline, one example per line.

    addition:digits=1-10,n=200000,seed=0            a+b=c, digits least significant first
    addition:digits=1-10,reverse=false              the usual order
    multiplication:digits=1-3,n=100000              a*b=c, small operands
    dyck:types=2,depth=1-6,n=100000                 an unbalanced bracket prefix, `=`, and its closing

Every command that takes a corpus takes these names. A line is a prompt (up
to and including `=`), its answer, and a newline; `Example` holds the parts,
so the exact-match evaluation (`multigrid eval-task`) asks the same
generator for prompts of sizes the model never trained on.

Sizes are balanced: for arithmetic each operand's digit count is drawn
uniformly from `digits` (operands have no leading zero); for Dyck the
nesting depth is drawn uniformly from `depth` and every prefix reaches it
(its size). With `reverse` (the default for arithmetic, as in McLeish et
al. 2024) operands and answer are written least significant digit first.
Lines come 1,000 to a document (DOC_LINES), each document seeded from (task,
seed, index) alone, so a corpus of n lines is the same on every machine and
its first documents do not change when n grows.
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable, Iterator

import attrs

from grid_dsl.data.documents import Corpus, SourceDocument
from grid_dsl.language.diagnostics import UserError, did_you_mean

GENERATOR_VERSION = 1
DOC_LINES = 1000
MAX_DIGITS = 1000  # an operand's digits; the answer of a product has up to twice as many
MAX_DEPTH = 1000
MAX_LINES = 100_000_000
BRACKETS = ("()", "[]", "{}", "<>")


@attrs.frozen
class Example:
    prompt: str  # ends with "="
    answer: str  # without the newline
    size: int  # the longest operand's digits, or the Dyck prefix's depth

    @property
    def line(self) -> str:
        return f"{self.prompt}{self.answer}\n"


@attrs.frozen
class Task:
    """A parsed task name: its kind and options (see the module docstring)."""

    kind: str
    sizes: tuple[int, int]  # digits or depth, inclusive
    n: int = 100_000
    seed: int = 0
    reverse: bool = True
    types: int = 2

    @property
    def name(self) -> str:
        size_key = "depth" if self.kind == "dyck" else "digits"
        parts = [f"{size_key}={self.sizes[0]}-{self.sizes[1]}", f"n={self.n}", f"seed={self.seed}"]
        parts += [f"types={self.types}"] if self.kind == "dyck" else [f"reverse={str(self.reverse).lower()}"]
        return f"{self.kind}:{','.join(parts)}"

    def example(self, rng: random.Random, size: int | None = None) -> Example:
        """One example; `size` fixes the digits of every operand (or the depth)."""
        return GENERATORS[self.kind](self, rng, size)

    def examples_of_size(self, size: int, count: int, seed: int) -> list[Example]:
        """`count` examples of exactly this size, from their own seed (the prompts of eval-task)."""
        rng = random.Random(_seed_of(f"eval/{self.kind}/{self.types}/{self.reverse}", seed, size))
        return [self.example(rng, size) for _ in range(count)]


# ------------------------------------------------------------------ generators


def _number(rng: random.Random, digits: int) -> int:
    return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)


def _written(value: int, reverse: bool) -> str:
    return str(value)[::-1] if reverse else str(value)


def _arithmetic(symbol: str, combine: Callable[[int, int], int]):
    def generate(task: Task, rng: random.Random, size: int | None) -> Example:
        la = size or rng.randint(*task.sizes)
        lb = size or rng.randint(*task.sizes)
        a, b = _number(rng, la), _number(rng, lb)
        prompt = f"{_written(a, task.reverse)}{symbol}{_written(b, task.reverse)}="
        return Example(prompt, _written(combine(a, b), task.reverse), max(la, lb))

    return generate


def _balanced(rng: random.Random, room: int, pairs: int, types: int) -> str:
    """A balanced bracket string of about `pairs` pairs nesting at most `room` deep."""
    out, stack = [], []
    for _ in range(2 * pairs):
        if stack and (len(stack) >= room or rng.random() < 0.5):
            out.append(BRACKETS[stack.pop()][1])
        elif room > 0:
            stack.append(rng.randrange(types))
            out.append(BRACKETS[stack[-1]][0])
    out.extend(BRACKETS[k][1] for k in reversed(stack))
    return "".join(out)


def _dyck(task: Task, rng: random.Random, size: int | None) -> Example:
    """Climb to `depth` open brackets with balanced filler between them, then
    close some (never all); the answer closes the rest."""
    depth = size or rng.randint(*task.sizes)
    out, stack = [], []
    for level in range(depth):
        out.append(_balanced(rng, depth - level, rng.randint(0, 2), task.types))
        stack.append(rng.randrange(task.types))
        out.append(BRACKETS[stack[-1]][0])
    for _ in range(rng.randint(0, depth - 1)):
        out.append(_balanced(rng, depth - len(stack), rng.randint(0, 1), task.types))
        out.append(BRACKETS[stack.pop()][1])
    answer = "".join(BRACKETS[k][1] for k in reversed(stack))
    return Example("".join(out) + "=", answer, depth)


GENERATORS = {
    "addition": _arithmetic("+", lambda a, b: a + b),
    "multiplication": _arithmetic("*", lambda a, b: a * b),
    "dyck": _dyck,
}
DEFAULT_SIZES = {"addition": (1, 10), "multiplication": (1, 3), "dyck": (1, 6)}


# ------------------------------------------------------------------ names


def is_task(ref: str) -> bool:
    return ref.partition(":")[0] in GENERATORS


def parse_task(ref: str) -> Task:
    """`kind:key=value,...` -> Task (UserError naming the bad part)."""
    kind, _, rest = ref.partition(":")
    if kind not in GENERATORS:
        raise UserError(f"unknown task {kind!r}; {did_you_mean(kind, GENERATORS) or 'tasks: ' + ', '.join(GENERATORS)}")
    size_key = "depth" if kind == "dyck" else "digits"
    keys = (size_key, "n", "seed") + (("types",) if kind == "dyck" else ("reverse",))
    values: dict = {"kind": kind, "sizes": DEFAULT_SIZES[kind]}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = (s.strip() for s in item.partition("="))
        if key not in keys:
            hint = did_you_mean(key, keys) or f"options of {kind}: {', '.join(keys)}"
            raise UserError(f"task {ref!r}: unknown option {key!r}; {hint}")
        values["sizes" if key == size_key else key] = _option(ref, key, value)
    task = Task(**values)
    _check_ranges(ref, task, size_key)
    return task


def _option(ref: str, key: str, value: str):
    try:
        if key == "reverse":
            if value not in ("true", "false"):
                raise ValueError
            return value == "true"
        if key in ("digits", "depth"):
            lo, sep, hi = value.partition("-")
            return (int(lo), int(hi)) if sep else (int(lo), int(lo))
        return int(value)
    except ValueError:
        shape = {"reverse": "true or false", "digits": "a range like 1-10", "depth": "a range like 1-6"}
        raise UserError(f"task {ref!r}: {key}={value!r} is not {shape.get(key, 'a whole number')}") from None


def _check_ranges(ref: str, task: Task, size_key: str) -> None:
    lo, hi = task.sizes
    ceiling = MAX_DEPTH if task.kind == "dyck" else MAX_DIGITS
    for ok, what in ((1 <= lo <= hi <= ceiling, f"{size_key} must be a range within 1-{ceiling}, low end first"),
                     (1 <= task.n <= MAX_LINES, f"n must be within 1-{MAX_LINES}"),
                     (task.seed >= 0, "seed must be 0 or more"),
                     (1 <= task.types <= len(BRACKETS), f"types must be within 1-{len(BRACKETS)}")):
        if not ok:
            raise UserError(f"task {ref!r}: {what}")


# ------------------------------------------------------------------ corpus


def _seed_of(key: str, seed: int, index: int) -> int:
    """No hash(): the same integer on every machine."""
    digest = hashlib.sha256(f"grid_dsl.tasks/{GENERATOR_VERSION}/{key}/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


class TaskCorpus(Corpus):
    """`task.n` lines of a task, DOC_LINES to a document."""

    def __init__(self, task: Task):
        self.task = task
        self.name = task.name

    def __len__(self) -> int:
        return -(-self.task.n // DOC_LINES)

    def documents(self) -> Iterator[SourceDocument]:
        t = self.task
        for index in range(len(self)):
            rng = random.Random(_seed_of(f"{t.kind}/{t.sizes}/{t.types}/{t.reverse}", t.seed, index))
            lines = min(DOC_LINES, t.n - index * DOC_LINES)
            yield SourceDocument(f"{t.kind}_{index:06d}", "".join(t.example(rng).line for _ in range(lines)))

    def fingerprint(self) -> str:
        """The content is a function of the generator and the task's name:
        hash those and the first document."""
        first = next(self.documents()).text
        return hashlib.sha256(f"{GENERATOR_VERSION}|{self.name}|{first}".encode()).hexdigest()


def task_corpus(ref: str) -> TaskCorpus:
    return TaskCorpus(parse_task(ref))
