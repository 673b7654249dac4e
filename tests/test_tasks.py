"""Task corpora (grid_dsl/data/tasks.py): exact, deterministic generators
whose answers Python's arithmetic confirms, and their names' errors."""

import collections
import random

import pytest
from conftest import run
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl.data import tasks
from grid_dsl.data.corpora import open_corpus
from grid_dsl.language.diagnostics import UserError

OPEN = dict(zip("([{<", ")]}>"))


def lines(ref: str) -> list[str]:
    return [line for doc in open_corpus(ref).documents() for line in doc.text.splitlines()]


def read_number(text: str, reverse: bool) -> int:
    return int(text[::-1] if reverse else text)


@pytest.mark.parametrize("kind, symbol, combine", [("addition", "+", int.__add__), ("multiplication", "*", int.__mul__)])
@pytest.mark.parametrize("reverse", [True, False])
def test_arithmetic_answers_are_python_s(kind, symbol, combine, reverse):
    found = lines(f"{kind}:digits=1-6,n=1500,seed=3,reverse={str(reverse).lower()}")
    assert len(found) == 1500
    for line in found:
        left, answer = line.split("=")
        a, b = left.split(symbol)
        for operand in (a, b):  # no leading zero, sizes in range
            assert 1 <= len(operand) <= 6 and (len(operand) == 1 or (operand[-1] if reverse else operand[0]) != "0")
        assert read_number(answer, reverse) == combine(read_number(a, reverse), read_number(b, reverse))


def test_the_same_name_gives_the_same_corpus_and_a_longer_one_extends_it():
    short, again, longer = (lines(f"addition:digits=1-4,n={n},seed=1") for n in (1200, 1200, 2500))
    assert short == again and longer[:1000] == short[:1000]
    assert lines("addition:digits=1-4,n=1200,seed=2") != short
    assert open_corpus("addition:digits=1-4,n=1200,seed=1").fingerprint() != open_corpus("addition:digits=1-4,n=1200,seed=2").fingerprint()


def test_operand_lengths_are_balanced():
    counts = collections.Counter(len(line.split("+")[0]) for line in lines("addition:digits=1-10,n=5000"))
    assert set(counts) == set(range(1, 11))
    assert max(counts.values()) < 1.4 * min(counts.values())  # uniform: about 500 each


def dyck_depth(text: str) -> int:
    depth = deepest = 0
    for c in text:
        depth += 1 if c in OPEN else -1
        deepest = max(deepest, depth)
    return deepest


@given(st.integers(1, 3), st.integers(1, 12), st.integers(0, 2**32))
@settings(max_examples=200, deadline=None)
def test_dyck_prefix_and_answer_balance_and_the_prefix_reaches_its_depth(types, depth, seed):
    task = tasks.parse_task(f"dyck:types={types},depth=1-{depth}")
    example = task.example(random.Random(seed), depth)
    prefix, answer = example.prompt[:-1], example.answer
    stack = []
    for c in prefix:
        if c in OPEN:
            stack.append(OPEN[c])
        else:
            assert stack.pop() == c  # the prefix never closes the wrong bracket
    assert stack and "".join(reversed(stack)) == answer  # never fully closed; the answer closes it
    assert dyck_depth(prefix) == depth == example.size
    assert set(prefix) <= set("()[]{}<>"[: 2 * types])


def test_examples_of_a_size_are_exact_and_their_own():
    task = tasks.parse_task("addition:digits=1-10")
    twenty = task.examples_of_size(20, 50, seed=0)
    assert all(len(e.prompt.split("+")[0]) == 20 and e.size == 20 for e in twenty)
    assert twenty == task.examples_of_size(20, 50, seed=0) != task.examples_of_size(20, 50, seed=1)


@pytest.mark.parametrize("ref, message", [
    ("addition:digit=1-3", "unknown option 'digit'; did you mean 'digits'?"),
    ("addition:digits=5-2", "digits must be a range within 1-1000, low end first"),
    ("addition:digits=0-2", "digits must be a range within 1-1000"),
    ("addition:digits=a-b", "digits='a-b' is not a range like 1-10"),
    ("addition:reverse=yes", "reverse='yes' is not true or false"),
    ("dyck:types=9", "types must be within 1-4"),
    ("dyck:n=0", "n must be within 1-100000000"),
    ("multiplication:n=1e9", "n='1e9' is not a whole number"),
])
def test_bad_task_names_are_user_errors(ref, message):
    with pytest.raises(UserError, match=message.replace("?", r"\?")):
        tasks.parse_task(ref)


def test_compile_takes_a_task_and_refuses_a_bad_one(tmp_path, capsys):
    spec = tmp_path / "s.axes"
    spec.write_text("group w = words\n")
    code, _, err = run(capsys, "compile", str(spec), "addition:digits=1-3,n=2000", "--out", str(tmp_path / "d"))
    assert code == 0, err
    code, _, err = run(capsys, "compile", str(spec), "addition:digits=3-1", "--out", str(tmp_path / "e"))
    assert code == 2 and "digits must be a range" in err and not (tmp_path / "e").exists()
