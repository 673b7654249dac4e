"""Peak memory of training at nanoGPT's CPU configuration, each run in a fresh process.

    python benchmarks/bench_train_memory.py [--steps N] [--fusions sum,concat,cross]

Every run trains for N steps (default 100) at nanoGPT's small CPU
configuration (4 layers, 4 heads, 128 wide, block 64, batch 12, no dropout)
in a process of its own, started by a wrapper process that reads
resource.getrusage(RUSAGE_CHILDREN).ru_maxrss once it has ended (peak_rss.py):
the peak resident set of that run alone (Python, torch and all).

    minimal GPT     bench_model.MinimalGPT on random windows: the floor
    baseline        `model.training.train.train` without axes (axes=none), on a compiled
                    synthetic corpus: the framework's loop, evaluation,
                    checkpoints and TensorBoard log included
    sum, concat...  the same with every fed axis of grid_dsl/data/demo.axes (5 axes)

Each row gives its ratio to the minimal GPT (framework runs: also to the
baseline). The issues set no memory target for training; these rows report.
MB = 2^20 bytes, as `ps` shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MULTIGRID_NO_DOWNLOAD", "1")  # a benchmark never downloads

from peak_rss import run_measured  # noqa: E402

DEMO_SPEC = ROOT / "grid_dsl" / "data" / "demo.axes"
STORIES = 300  # about 0.8 MB of synthetic tales: plenty of windows for a few hundred steps
FUSIONS = ("sum", "concat", "cross")


def train_minimal(steps: int) -> None:
    """`steps` AdamW steps of the minimal GPT on random windows."""
    import torch
    from bench_model import BATCH, BLOCK, VOCAB, MinimalGPT

    torch.manual_seed(0)
    net = MinimalGPT()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.1)
    for _ in range(steps):
        x = torch.randint(VOCAB, (BATCH, BLOCK + 1))
        loss = net(x[:, :-1], x[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def train_framework(data: str, out: str, steps: int, fusion: str) -> None:
    """`steps` steps of `model.training.train.train` ("none": the baseline), one evaluation at the end."""
    from model.network.config import TrainConfig
    from model.training.train import train

    config = TrainConfig(max_iters=steps, eval_interval=steps, sample_interval=0, device="cpu",
                         axes="none" if fusion == "none" else "fed", fusion="sum" if fusion == "none" else fusion)
    train(data, out, config, progress=False)


def compile_demo(out: Path) -> None:
    """The synthetic tales compiled with demo.axes into `out` (not measured)."""
    from grid_dsl import load_spec
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.corpora import open_corpus

    compile_corpus(load_spec(DEMO_SPEC), open_corpus(f"synthetic:stories={STORIES},seed=0"), out)


def run(steps: int = 100, fusions=FUSIONS) -> list[dict]:
    """[{name, value (MB), unit, ratio, of}]: peak RSS of the minimal GPT,
    the baseline and each fusion with the demo's axes, `steps` steps each."""
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    with tempfile.TemporaryDirectory() as tmp:
        compile_demo(Path(tmp) / "data")
        peaks = {"minimal GPT": run_measured(me + ["minimal", str(steps)])[1]}
        for fusion in ("none", *fusions):
            name = "baseline" if fusion == "none" else f"{fusion}, demo.axes"
            peaks[name] = run_measured(me + ["train", f"{tmp}/data", f"{tmp}/run-{fusion}", str(steps), fusion])[1]
    rows = []
    for name, mb in peaks.items():
        of = None if name == "minimal GPT" else "minimal GPT" if name == "baseline" else "baseline"
        rows.append({"name": f"train {steps} steps, peak RSS: {name}", "value": mb, "unit": "MB",
                     "ratio": mb / peaks[of] if of else None, "of": of})
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kind, *rest = sys.argv[2:]
        if kind == "minimal":
            train_minimal(int(rest[0]))
        else:
            data, out, steps, fusion = rest
            train_framework(data, out, int(steps), fusion)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--fusions", default=",".join(FUSIONS), help="comma-separated, of sum, concat, cross")
    args = parser.parse_args()
    for r in run(args.steps, tuple(args.fusions.split(","))):
        ratio = f"  {r['ratio']:5.2f}x {r['of']}" if r["ratio"] is not None else ""
        print(f"{r['name']:52s} {r['value']:8.1f} {r['unit']}{ratio}")


if __name__ == "__main__":
    main()
