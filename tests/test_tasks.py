"""Task corpora (grid_dsl/data/tasks.py): exact, deterministic generators
whose answers Python's arithmetic confirms, and their names' errors."""

import collections
import re
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


# ---------------------------------------------------------------- the loss mask

MASK_SPEC = 'nesting answer (inside) {\n    "=" .. "\\n"\n}\n\nfeed answer as mask\n'
DIGITS_SPEC = "group num = matches /[0-9]+/\nposition digit = num (max=40)\n\nfeed digit as context\n" + MASK_SPEC


@pytest.mark.parametrize("spec, message", [
    (MASK_SPEC + "rules r { when char is digit -> D }\nfeed r as mask\n", "a second mask ('r')"),
    (MASK_SPEC + "group w = words\nfeed w as predict\n", "a mask ('answer') and predict axes (w) do not combine"),
    (MASK_SPEC.replace("as mask", "as mask (weight=2)"), "a mask is not read by the model: it takes no weight or dim"),
])
def test_bad_masks_are_spec_errors(spec, message):
    from grid_dsl import SpecError, loads_spec

    with pytest.raises(SpecError, match=re.escape(message)):
        loads_spec(spec)


def test_the_masked_loss_is_the_mean_over_the_marked_targets_only():
    import torch
    import torch.nn.functional as F

    from model.network.transformer import GridConfig, GridTransformer

    torch.manual_seed(0)
    net = GridTransformer(GridConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8, loss_mask="answer"))
    main = torch.randint(7, (3, 10))
    mask = torch.randint(2, (3, 10, 1))
    out = net(main, mask)
    targets, keep = main[:, 1:9], mask[:, 1:9, 0] == 1
    expected = F.cross_entropy(out.logits[keep], targets[keep])
    assert torch.allclose(out.nll_main, expected) and int(out.scored) == int(keep.sum())
    empty = net(main, torch.zeros_like(mask))  # nothing to score: 0 nats over 0 positions, no NaN
    assert float(empty.nll_main.detach()) == 0.0 and int(empty.scored) == 0


@pytest.fixture(scope="module")
def addition_run(tmp_path_factory):
    from grid_dsl import loads_spec
    from grid_dsl.data.build import compile_corpus
    from model.network.config import TrainConfig
    from model.training.train import train

    root = tmp_path_factory.mktemp("addition")
    compile_corpus(loads_spec(DIGITS_SPEC, "digits.axes"), open_corpus("addition:digits=1-3,n=3000"), root / "data")
    config = TrainConfig(n_layer=1, n_head=2, n_embd=16, block_size=32, batch_size=8, max_iters=20, eval_interval=20,
                         eval_iters=2, warmup_iters=2, sample_interval=0, device="cpu", prefix_check=200)
    metrics = train(root / "data", root / "run", config, progress=False)
    return root, metrics


def test_a_masked_run_says_what_it_scored(addition_run):
    _, metrics = addition_run
    assert metrics.loss_mask == "answer" and [a.name for a in metrics.axes] == ["digit"]


def test_the_digit_position_axis_is_prefix_stable_on_task_text():
    from grid_dsl import loads_spec
    from grid_dsl.testing import assert_prefix_stable

    plan = loads_spec(DIGITS_SPEC)
    text = next(open_corpus("addition:digits=1-12,n=200,seed=4").documents()).text
    assert plan.axis("digit").causal
    assert_prefix_stable(plan, text, list(range(1, len(text), 97)))


# ---------------------------------------------------------------- eval-task


@pytest.mark.parametrize("right", [True, False])
def test_eval_task_scores_a_known_good_and_a_known_bad_model(addition_run, monkeypatch, capsys, right):
    """generate replaced by one that writes the true answer (or a wrong digit
    in it): eval-task must say 100% (or 0%), whatever the prompt's encoding."""
    import torch

    from model.experiments import tasks as task_eval
    from model.network import generate as generation

    root, _ = addition_run
    vocab = list(__import__("model.network.checkpoint", fromlist=["load"]).load(root / "run").data.main_vocab)

    def answering(net, prompt, steps, **kwargs):
        rows = prompt.tolist() if isinstance(prompt, torch.Tensor) else [prompt]
        rows = [r if isinstance(r, list) else rows[0] for r in rows]
        out = []
        for ids in rows:
            left = "".join(vocab[i] for i in ids).split("\n")[-1]
            a, b = (int(x[::-1]) for x in left[:-1].split("+"))
            answer = str(a + b)[::-1]
            answer = answer if right else ("1" if answer[0] != "1" else "2") + answer[1:]
            out.append(ids + [vocab.index(c) for c in answer + "\n"][:steps])
        return generation.Generation(torch.tensor(out), {})

    monkeypatch.setattr(generation, "generate", answering)
    code, out, err = run(capsys, "eval-task", root / "run", "--task", "addition:digits=1-4", "--n", "7")
    assert code == 0, err
    results = task_eval.read(root / "run" / "eval-task" / "addition")
    assert [s.size for s in results.sizes] == [1, 2, 3, 4]
    assert all(s.accuracy == (1.0 if right else 0.0) and s.prompts == 7 for s in results.sizes)
    # where it errs: nowhere, or always at the first answer character and nowhere after it
    assert all(s.wrong_at[0] == (0.0 if right else 1.0) and not any(s.wrong_at[1:]) for s in results.sizes)
    assert all(len(s.wrong_at) in (s.size, s.size + 1) for s in results.sizes)
    assert (root / "run" / "eval-task" / "addition" / "accuracy.png").stat().st_size > 0
    assert "| 4 | 7 | " + ("7 | 100.0%" if right else "0 | 0.0%") in out


def test_wrong_at_is_the_share_wrong_among_the_answers_that_have_the_character():
    from model.experiments.tasks import wrong_at

    # character 1: all right ("89" goes on past "8", which wrong_at leaves to the exact count);
    # 2: of "12", "13" and "135", "1" stopped short; 3: only "135" has it, and "136" is wrong there
    assert wrong_at(["12", "1", "89", "136"], ["12", "13", "8", "135"]) == (0.0, 1 / 3, 1.0)
    assert wrong_at([], []) == ()


def test_eval_task_refuses_what_the_run_cannot_write(addition_run, capsys):
    root, _ = addition_run
    code, _, err = run(capsys, "eval-task", root / "run", "--task", "dyck:depth=1-3")
    assert code == 2 and "never saw '(', ')', '[', ']'" in err
    code, _, err = run(capsys, "eval-task", root / "run", "--task", "addition:digits=1-12")
    assert code == 2 and "more than the run's block_size=32; evaluate sizes up to 9" in err


def test_train_offset_shifts_each_training_window_by_one_draw(tmp_path):
    import torch

    from grid_dsl import loads_spec
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.dataset import Dataset
    from model.training.batches import Batches

    spec = DIGITS_SPEC.replace("(max=40)", "(max=12, train_offset=5)")
    compile_corpus(loads_spec(spec, "o.axes"), open_corpus("addition:digits=1-8,n=2000"), tmp_path / "d")
    ds = Dataset.open(tmp_path / "d")
    assert ds.axes[0].train_offset == 5 and ds.axes[1].train_offset == 0
    plain = Batches(ds, "train", 32, 64)
    shifted = Batches(ds, "train", 32, 64, augment=True)
    main, meta = plain.get(torch.Generator().manual_seed(3))
    main2, moved = shifted.get(torch.Generator().manual_seed(3))
    assert torch.equal(main, main2) and torch.equal(meta[..., 1], moved[..., 1])  # the same windows; the mask untouched
    before, after = meta[..., 0], moved[..., 0]
    assert torch.equal(before == 0, after == 0)  # no label appears or vanishes
    last = len(ds.axes[0].vocab) - 1
    for row_before, row_after in zip(before, after):
        shift = {int(a - b) for a, b in zip(row_after, row_before) if b > 0 and a < last}
        assert len(shift) <= 1 and shift <= set(range(6))  # one draw per window, 0..5
        k = shift.pop() if shift else None  # None: every label of the window reached the cap
        assert all(int(a) == (last if k is None else min(int(b) + k, last)) for a, b in zip(row_after, row_before) if b > 0)
    assert (after - before).sum() > 0  # some window moved
    assert torch.equal(Batches(ds, "val", 32, 8).fixed(2, seed=0)[0][1], Batches(ds, "val", 32, 8).fixed(2, seed=0)[0][1])


def test_a_predicted_axis_may_not_have_a_train_offset():
    from grid_dsl import SpecError, loads_spec

    with pytest.raises(SpecError, match="'digit' has a train_offset, which would move the labels it is trained to predict"):
        loads_spec("group num = matches /[0-9]+/\nposition digit = num (train_offset=3)\nfeed digit as predict\n")


def test_eval_task_results_say_whether_the_run_is_leaky(tmp_path):
    from grid_dsl.data.tasks import parse_task
    from model.experiments import tasks as task_eval

    results = [task_eval.SizeResult(1, 2, 1, task_eval.Written("1+1=", "2", "2"))]
    task_eval.write(tmp_path / "h", results, parse_task("addition:digits=1-1"), "run", 2, 0)
    task_eval.write(tmp_path / "l", results, parse_task("addition:digits=1-1"), "run", 2, 0, "LEAKY — not an LM score")
    assert task_eval.read(tmp_path / "h").leaky is False
    assert task_eval.read(tmp_path / "l").label == "LEAKY — not an LM score"
    assert task_eval.read(tmp_path / "h").sizes == tuple(results)  # accuracy 0.5 written and read back
    assert "[LEAKY — not an LM score]" in (tmp_path / "l" / "results.md").read_text()
