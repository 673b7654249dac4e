"""Exact-match accuracy of a run on a task, size by size (`multigrid eval-task`).

    multigrid eval-task runs/add --task addition:digits=1-30 --n 100

For each size of the task's range (operand digits, or Dyck depth), `n`
prompts of exactly that size come from the task's generator
(grid_dsl.data.tasks, seeded apart from the training corpus), each after a
newline, as a line of the corpus starts. The model continues each prompt
greedily (temperature 0) for the answer's length plus one character, with
its context axes computed on the text as it is written, exactly as `multigrid
sample` does; a prompt is right when what it wrote up to its first newline
is the answer, exactly. Sizes the model never trained on are the point:
length generalisation. Where answers go wrong is measured too: for each
character of the answer (the first written first), the share of prompts
whose answer has it and got it wrong (`wrong_at`) — a model may have learnt
the carries and not the first sum.

Written to OUT (default RUN/eval-task/KIND): results.json (every size's
count and accuracy, the task, the run), results.md (the table) and
accuracy.png (accuracy against size); TensorBoard scalars
`eval_task/KIND/accuracy` by size in RUN. A task the run's vocabulary cannot
write, or a prompt and answer longer than the run's block, is a UserError
(exit 2) naming the size.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from grid_dsl.data.files import write_atomically, write_json_atomically
from grid_dsl.data.records import Record, VersionedRecord
from grid_dsl.data.tasks import Example, Task
from grid_dsl.language.diagnostics import UserError

FORMAT = "multigrid-eval-task/1"
FILE = "results.json"


@attrs.frozen
class Written(Record):
    """One prompt, its answer and what the model wrote."""

    prompt: str
    answer: str
    written: str


def _accuracy(result: "SizeResult") -> float:
    return result.correct / result.prompts if result.prompts else 0.0


@attrs.frozen
class SizeResult(Record):
    size: int
    prompts: int
    correct: int
    example: Written
    wrong_at: tuple[float, ...] = ()  # per answer character: the share of prompts wrong there (older files: none)
    accuracy: float = attrs.field(default=attrs.Factory(_accuracy, takes_self=True))  # kept in the file for readers


@attrs.frozen
class TaskResults(VersionedRecord):
    """results.json: a run's exact match on a task, size by size."""

    FORMAT = FORMAT

    run: str
    task: str
    prompts_per_size: int
    seed: int
    leaky: bool
    label: str  # "honest", or the LEAKY label of a run that reads leaky axes
    sizes: tuple[SizeResult, ...]


def check_task(task: Task, data, block_size: int, file, n: int = 1, seed: int = 0) -> None:
    """UserError when the run cannot write the task's `n` prompts of each
    size (those `evaluate` will draw): characters outside its vocabulary, or
    a prompt and answer longer than its block."""
    if data.unit != "chars":
        raise UserError(f"{file} models bytes; eval-task reads character models")
    known = set(data.main_vocab)
    for size in range(task.sizes[0], task.sizes[1] + 1):
        examples = task.examples_of_size(size, n, seed)
        example = max(examples, key=lambda e: len(e.prompt) + len(e.answer))
        missing = sorted(set().union(*(e.line for e in examples)) - known)
        if missing:
            raise UserError(f"task {task.kind}: the model of {file} never saw {', '.join(map(repr, missing))} "
                            f"(its vocabulary has {len(known)} characters); train it on this task's corpus")
        longest = 1 + len(example.prompt) + len(example.answer) + 1
        if longest > block_size:
            raise UserError(f"task {task.kind}: a prompt of size {size} and its answer take {longest} positions, "
                            f"more than the run's block_size={block_size}; evaluate sizes up to "
                            f"{_largest_fitting(task, block_size, n, seed)} (--task ...:{_size_key(task)}=LO-HI)")


def _size_key(task: Task) -> str:
    return "depth" if task.kind == "dyck" else "digits"


def _largest_fitting(task: Task, block_size: int, n: int, seed: int) -> int:
    size = task.sizes[0]
    while size < task.sizes[1]:
        if any(2 + len(e.prompt) + len(e.answer) > block_size for e in task.examples_of_size(size + 1, n, seed)):
            break
        size += 1
    return size


def evaluate(net, data, task: Task, n: int, seed: int, context_fn=None, progress=None) -> list[SizeResult]:
    """Every size of `task`: n prompts, greedy answers, exact matches."""
    results = []
    for size in range(task.sizes[0], task.sizes[1] + 1):
        examples = task.examples_of_size(size, n, seed)
        written = [_answer(net, data, e, context_fn) for e in examples] if context_fn else _answers(net, data, examples)
        correct = sum(w == e.answer for w, e in zip(written, examples))
        first = Written(examples[0].prompt, examples[0].answer, written[0])
        results.append(SizeResult(size, len(examples), correct, first, wrong_at(written, [e.answer for e in examples])))
        if progress:
            progress(results[-1])
    return results


def wrong_at(written: list[str], answers: list[str]) -> tuple[float, ...]:
    """For each character position of the answers, the share of those that
    have it whose written text differs there (a character not written counts
    as wrong). An answer right at every character can still be wrong by
    going on past its end; the exact count says so."""
    shares = []
    for i in range(max(map(len, answers), default=0)):
        pairs = [(w, a) for w, a in zip(written, answers) if i < len(a)]
        shares.append(sum(i >= len(w) or w[i] != a[i] for w, a in pairs) / len(pairs))
    return tuple(shares)


def _ids(text: str, data) -> list[int]:
    index = {c: i for i, c in enumerate(data.main_vocab)}
    return [index[c] for c in text]


def _written(ids: list[int], data) -> str:
    return "".join(data.main_vocab[i] for i in ids).split("\n", 1)[0]


def _answer(net, data, example: Example, context_fn) -> str:
    from model.network.generate import generate

    prompt = _ids("\n" + example.prompt, data)
    out = generate(net, prompt, len(example.answer) + 1, context_fn=context_fn, temperature=0)
    return _written(out.main[0, len(prompt):].tolist(), data)


def _answers(net, data, examples: list[Example], batch: int = 64) -> list[str]:
    """Prompts of one length at a time, in batches (a model without context axes)."""
    import torch

    from model.network.generate import generate

    written = [""] * len(examples)
    by_length: dict[int, list[int]] = {}
    for i, e in enumerate(examples):
        by_length.setdefault(len(e.prompt), []).append(i)
    device = next(net.parameters()).device
    for indexes in by_length.values():
        for lo in range(0, len(indexes), batch):
            chunk = indexes[lo : lo + batch]
            prompt = torch.tensor([_ids("\n" + examples[i].prompt, data) for i in chunk], device=device)
            steps = max(len(examples[i].answer) for i in chunk) + 1
            out = generate(net, prompt, steps, temperature=0)
            for row, i in enumerate(chunk):
                written[i] = _written(out.main[row, prompt.size(1):].tolist(), data)
    return written


def table(results: list[SizeResult], task: Task) -> str:
    lines = [f"| {_size_key(task)} | prompts | exact | accuracy | wrong at answer character 1, 2, … |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.size} | {r.prompts} | {r.correct} | {r.accuracy:.1%} | {' '.join(f'{w:.2f}' for w in r.wrong_at)} |"
              for r in results]
    return "\n".join(lines)


def write(out: Path, results: list[SizeResult], task: Task, run: str, n: int, seed: int, label: str = "honest") -> None:
    """`label`: "honest", or the LEAKY label of a run that reads leaky axes (oracle ones)."""
    out.mkdir(parents=True, exist_ok=True)
    record = TaskResults(run=run, task=task.name, prompts_per_size=n, seed=seed, leaky=label != "honest", label=label,
                         sizes=tuple(results))
    write_json_atomically(out / FILE, record.to_dict())
    mark = "" if label == "honest" else f" [{label}]"
    write_atomically(out / "results.md", f"Exact match of {run} on {task.name} ({n} prompts a size, seed {seed}){mark}:\n\n"
                     + table(results, task) + "\n")
    _plot(out / "accuracy.png", results, task, run)


def _plot(path: Path, results: list[SizeResult], task: Task, run: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r.size for r in results], [r.accuracy for r in results], marker="o")
    ax.set(xlabel=_size_key(task), ylabel="exact match", ylim=(-0.02, 1.02), title=f"{task.kind}: {run}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomically(path, writer=lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def log_tensorboard(run_dir: Path, results: list[SizeResult], task: Task) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(run_dir)) as writer:
        for r in results:
            writer.add_scalar(f"eval_task/{task.kind}/accuracy", r.accuracy, r.size)


def read(out: Path) -> TaskResults:
    """The results eval-task wrote to `out`; UserError when there are none or
    they do not read (damaged, edited, another version)."""
    return TaskResults.from_json_file(Path(out) / FILE, "eval-task results",
                                      missing="run `multigrid eval-task RUN --task ...` for it first",
                                      version_fix="run eval-task again with this version",
                                      damage_fix="run eval-task again to write it afresh")
