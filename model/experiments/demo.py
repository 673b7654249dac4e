"""`multigrid demo`: the whole pipeline once, offline, in about five minutes on a CPU.

    multigrid demo [--out DIR] [--stories N] [--steps N] [key=value ...]

1. writes the built-in synthetic fairy tales (grid_dsl/data/synthetic.py: seeded,
   with planted roles, stages and speakers) — no download;
2. shows the demo spec (grid_dsl/data/demo.axes) on the first tale: its axes,
   their causality and modes, and the fed axes drawn under the text;
3. compiles the corpus into DIR/data (again only when something changed);
4. trains a baseline (axes=none: the same data, no axis) and the grid model
   (every axis the spec feeds) for the same number of steps, with nanoGPT's
   small CPU configuration (about two minutes each on two cores);
5. scores both on every position of the validation split and prints the
   table: honest bpc_joint (the number that compares with the baseline),
   bpc_main, tokens/s, parameters, the axes' modes, the leaky flag.

The runs are ordinary run directories (DIR/runs/baseline, DIR/runs/grid):
`tensorboard --logdir DIR/runs` shows them side by side, and `multigrid
sample DIR/runs/grid --show-grid` writes with the grid model. Running the
demo again replaces its runs (DIR holds a demo.json marking it as the
demo's); any other non-empty DIR is refused. key=value pairs are training
config keys (model/network/config.py), e.g. `n_layer=2` or `device=cuda`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from grid_dsl.language.diagnostics import UserError

DEFAULT_OUT = "multigrid-demo"
MARKER = "demo.json"
# nanoGPT's small CPU configuration (its shakespeare_char config, shrunk for a CPU).
DEMO_CONFIG = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, dropout=0.0,
                   learning_rate=1e-3, warmup_iters=100, eval_interval=250, eval_iters=20,
                   sample_interval=500, seed=1337)
RUNS = (("baseline", "none"), ("grid", "fed"))


# Measured on two CPU cores (README: the demo's 2,000 steps take about five minutes):
# about 65 ms a training step of DEMO_CONFIG's model, and 45 s for
# the rest (the corpus, compiling, the referee, scoring every validation character).
CPU_STEP_SECONDS = 0.065
CPU_FIXED_SECONDS = 45


def expected_time(config, device) -> str:
    """How long the demo should take, said up front (CPU only: a GPU's varies)."""
    if device.type != "cpu" or config.n_embd != DEMO_CONFIG.get("n_embd", config.n_embd):
        return ""
    minutes = (2 * config.max_iters * CPU_STEP_SECONDS + CPU_FIXED_SECONDS) / 60
    return f" (about {max(1, round(minutes))} minute{'s' if round(minutes) > 1 else ''} on a two-core CPU)"


def run_demo(args) -> int:
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.inputs import DEMO_SPEC_PATH, load_plan
    from grid_dsl.data.dataset import Dataset
    from grid_dsl.data.synthetic import synthetic_corpus

    from model.network.config import TrainConfig, resolve_device

    out = Path(args.out)
    base = {**DEMO_CONFIG, "max_iters": args.steps, "lr_decay_iters": args.steps}
    config = TrainConfig.load(None, args.overrides, base=base)
    device = resolve_device(config.device)
    claim(out)
    plan = load_plan(DEMO_SPEC_PATH)
    corpus = synthetic_corpus(stories=args.stories, seed=0)

    say(f"MultiGrid demo: a baseline and a grid transformer on {args.stories} synthetic fairy tales, "
        f"{config.max_iters} steps each, on {device}" + expected_time(config, device) + ".")
    say(f"\n1. the spec {DEMO_SPEC_PATH} on the first tale (planted stages and speakers come from the generator):\n")
    say(preview(plan, corpus))

    say(f"\n2. compiling {corpus.name} into {out / 'data'}")
    summary = compile_corpus(plan, corpus, out / "data", val_fraction=0.1, seed=0, progress=True)
    for line in summary.lines():
        say("   " + line)
    ds = Dataset.open(out / "data")

    results = []
    for step, (name, axes) in enumerate(RUNS, start=3):
        what = "no axis (the baseline, same data)" if axes == "none" else "every axis the spec feeds"
        say(f"\n{step}. training {name}: {what} -> {out / 'runs' / name}")
        results.append(train_and_score(ds, out / "runs" / name, config.replace(axes=axes)))

    say("\n5. scored on every position of the validation split:\n")
    say(results_table(results))
    say(verdict(results))
    say(f"\nlook at the runs:  tensorboard --logdir {out / 'runs'}")
    say(f"write with them:   multigrid sample {out / 'runs' / 'grid'} --show-grid")
    return 0


def claim(out: Path) -> None:
    """Make `out` the demo's: new, empty, or a previous demo (whose runs go)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; pass a directory for the demo's data and runs")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UserError(f"--out {out} is not empty and was not made by `multigrid demo`; "
                        "pass another --out (the demo replaces only its own runs)")
    shutil.rmtree(out / "runs", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"made_by": "multigrid demo"}) + "\n", encoding="utf-8")


def preview(plan, corpus) -> str:
    """The axis table and the fed axes drawn under the first lines of tale 0."""
    from grid_dsl.data.compiler import compile_text
    from grid_dsl.data.report import axis_table

    doc = next(iter(corpus.documents()))
    grid = compile_text(plan, doc.text, doc.annotations)
    cut = doc.text.find("\n\n", doc.text.find("\n\n") + 2)  # the title and the first paragraph
    clipped = {layer: [(a, min(b, cut), label) for a, b, label in spans if a < cut]
               for layer, spans in doc.annotations.items()}
    excerpt = compile_text(plan, doc.text[:cut], clipped)
    shown = [f.axis for f in plan.feeds]
    return axis_table(plan, grid) + "\n\n" + excerpt.render(shown, width=shutil.get_terminal_size((100, 24)).columns)


def train_and_score(ds, run: Path, config) -> dict:
    """Train a run, then score its last checkpoint on the whole val split."""
    import torch

    from model.network import checkpoint
    from model.network.config import resolve_device
    from model.training.evaluate import whole_split
    from model.training.tensorboard import grid_sample_fn
    from model.network.model_axes import model_axes
    from model.training.train import train

    samples = grid_sample_fn(ds, model_axes(ds, config.axes), seed=config.seed) if config.sample_interval else None
    metrics = train(ds, run, config, sample_fn=samples)
    state = checkpoint.load(run)
    columns = checkpoint.check_data(state, ds, same_spec=True, file=run / checkpoint.LAST)
    net = state.network().to(resolve_device(config.device))
    with torch.no_grad():
        scores = whole_split(net, ds, "val", columns, batch_size=32)
    return {"name": run.name, "metrics": metrics, "bpc_main": scores.bpc_main, "bpc_joint": scores.bpc_joint,
            "positions": scores.positions}


def results_table(results: list[dict]) -> str:
    from grid_dsl.data.report import format_table

    from model.training.evaluate import LEAKY_LABEL

    rows = []
    for r in results:
        m = r["metrics"]
        axes = ", ".join(f"{a.name} ({a.mode})" for a in m.axes) or "none"
        rows.append([r["name"], f"{r['bpc_joint']:.4f}", f"{r['bpc_main']:.4f}", f"{m.tokens_per_s:,.0f}",
                     f"{m.parameters:,}", f"{m.step:,}", LEAKY_LABEL if m.leaky else "no", axes])
    headers = ["run", "bpc_joint", "bpc_main", "tokens/s", "parameters", "steps", "leaky", "axes (mode)"]
    return format_table(headers, rows, right=(1, 2, 3, 4, 5))


def verdict(results: list[dict]) -> str:
    """One honest sentence: bpc_joint is what compares with the baseline."""
    base, grid = results[0], results[1]
    if grid["metrics"].leaky:
        return "\nthe grid run is leaky: its numbers are not language-model scores and do not compare."
    gain = base["bpc_joint"] - grid["bpc_joint"]
    direction = "lower (better)" if gain > 0 else "higher (worse)"
    return (f"\nthe grid model's bpc_joint, which includes the bits it spends predicting its predict axes, is "
            f"{abs(gain):.4f} bits/char {direction} than the baseline's bpc_main on the same "
            f"{base['positions']:,} characters — one seed; `multigrid compare` measures the spread across seeds.")


def say(text: str) -> None:
    print(text)
    sys.stdout.flush()
