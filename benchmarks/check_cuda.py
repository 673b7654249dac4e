"""The CUDA path on a GPU, in one short run: what the CPU test suite cannot reach.

    python benchmarks/check_cuda.py [--out DIR] [--steps N]

Run it alone on a GPU machine (a few minutes, most of it torch.compile). It
drives the real commands, so what passes here is what a researcher gets:

1. data     the built-in synthetic tales compiled with grid_dsl/data/demo.axes.
2. train    `multigrid train` at nanoGPT's shakespeare-char GPU configuration
            (6 layers, 6 heads, 384 wide, block 256, batch 64, dropout 0.2),
            --steps steps three ways: float32, bf16 autocast, bf16 autocast +
            torch.compile. Each must exit 0 with a finite validation bpc_joint,
            and the bf16 runs must land within 0.05 bits/char of float32 (the
            same model at another precision). Their steady-state steps/s (the
            last evaluation interval) and ratios are printed.
3. ddp      with 2+ GPUs: `torchrun --nproc_per_node=2` (DDP over NCCL) against
            one process with grad_accum=2, the same global batch: within 0.02
            bits/char. With one GPU this says it was skipped (NCCL refuses two
            ranks on one device).
4. kv       on the GPU in float32: the logits of a window decoded token by
            token with the KV cache equal one full forward pass (max |diff| <
            1e-3), and 1,000 characters at block 256 sampled with and without
            the cache (the sampling benchmark's model), the speed-up printed.
5. cli      `multigrid eval` and `multigrid sample` on the compiled run, on
            the GPU: exit 0.
6. hierarchy the hierarchical model (boundary=every:8, global blocks between
            two halves of windowed local blocks) trained in float32 and in bf16
            + torch.compile: finite, within 0.05 bits/char of each other; its
            KV-cache decoding equal to one full forward pass; its step time
            against the flat bf16+compile run's.

Prints one line per check (PASS / FAIL / SKIP with what was measured); exits 0
when nothing failed, 1 otherwise, 2 when torch sees no CUDA device.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.network import metrics  # noqa: E402  (the project root, put on the path above)
from model.network.metrics import RunMetrics  # noqa: E402

# nanoGPT's config/train_shakespeare_char.py, the GPU one
GPU_CONFIG = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, dropout=0.2, learning_rate=1e-3,
                  warmup_iters=100, eval_iters=20, sample_interval=0, log_interval=50)
# --tiny: the same checks in seconds (on CPU too), to check the script itself
TINY_CONFIG = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=4, dropout=0.0, learning_rate=1e-3,
                   warmup_iters=2, eval_iters=2, sample_interval=0, log_interval=5, prefix_check=200)
VARIANTS = {"float32": dict(dtype="float32", compile="false"), "bf16": dict(dtype="bfloat16", compile="false"),
            "bf16+compile": dict(dtype="bfloat16", compile="true")}
BF16_TOLERANCE, DDP_TOLERANCE, KV_TOLERANCE = 0.05, 0.02, 1e-3


class Report:
    def __init__(self):
        self.failed = 0

    def line(self, status: str, name: str, detail: str) -> None:
        self.failed += status == "FAIL"
        print(f"{status:4s}  {name:34s} {detail}", flush=True)

    def check(self, ok: bool, name: str, detail: str) -> None:
        self.line("PASS" if ok else "FAIL", name, detail)


def multigrid(*args: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    command = (launcher or [sys.executable]) + ["-m", "model.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(f"      $ {' '.join(command)}\n      exit {done.returncode}: {done.stderr.strip()[-2000:]}", flush=True)
    return done


def compile_data(out: Path, stories: int) -> Path:
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.inputs import DEMO_SPEC_PATH, load_plan
    from grid_dsl.data.synthetic import synthetic_corpus

    compile_corpus(load_plan(DEMO_SPEC_PATH), synthetic_corpus(stories=stories, seed=0), out / "data",
                   val_fraction=0.1, seed=0)
    return out / "data"


def train(data: Path, run: Path, config: dict, launcher=None) -> RunMetrics | None:
    """The run's metrics, or None when `multigrid train` failed."""
    overrides = [f"{k}={v}" for k, v in config.items()]
    if multigrid("train", "--data", str(data), "--out", str(run), *overrides, launcher=launcher).returncode:
        return None
    return metrics.load(run)


def steps_per_second(run: RunMetrics) -> float:
    """Over the last evaluation interval: compile time and warm-up excluded."""
    a, b = run.history[-2:]
    return (b.step - a.step) / (b.wall_time_s - a.wall_time_s)


def check_training(report: Report, data: Path, out: Path, base: dict, steps: int) -> Path | None:
    runs = {}
    budget = {"max_iters": steps, "eval_interval": max(1, steps // 2)}  # two evaluations: the last interval is steady
    for name, variant in VARIANTS.items():
        trained = train(data, out / "runs" / name, {**base, **variant, **budget})
        ok = trained is not None and math.isfinite(trained.bpc_joint)
        report.check(ok, f"train {name}", f"val bpc_joint {trained.bpc_joint:.4f}, {steps_per_second(trained):.1f} "
                     f"steps/s, on {trained.device}" if trained else "multigrid train failed")
        if ok:
            runs[name] = trained
    if "float32" in runs:
        for name in ("bf16", "bf16+compile"):
            if name in runs:
                gap = abs(runs[name].bpc_joint - runs["float32"].bpc_joint)
                ratio = steps_per_second(runs["float32"]) / steps_per_second(runs[name])
                report.check(gap < BF16_TOLERANCE, f"{name} vs float32",
                             f"|Δ bpc_joint| {gap:.4f} (< {BF16_TOLERANCE}); step time {ratio:.2f}x float32's")
    if "bf16" in runs and "bf16+compile" in runs:
        ratio = steps_per_second(runs["bf16"]) / steps_per_second(runs["bf16+compile"])
        report.line("INFO", "compiled vs eager (bf16)", f"step time {ratio:.2f}x eager's")
    return out / "runs" / "bf16+compile" if "bf16+compile" in runs else None


def check_ddp(report: Report, data: Path, out: Path, base: dict, steps: int) -> None:
    if torch.cuda.device_count() < 2:
        report.line("SKIP", "DDP over NCCL",
                    f"{torch.cuda.device_count()} GPU: torchrun needs 2 (NCCL refuses two ranks on one GPU)")
        return
    config = {**base, **VARIANTS["bf16"], "max_iters": steps, "eval_interval": max(1, steps // 2)}
    one = train(data, out / "runs" / "one-gpu", {**config, "grad_accum": 2})
    two = train(data, out / "runs" / "ddp", config, launcher=["torchrun", "--standalone", "--nproc_per_node=2"])
    if one is None or two is None:
        report.check(False, "DDP over NCCL", "a run failed")
        return
    gap = abs(one.bpc_joint - two.bpc_joint)
    report.check(gap < DDP_TOLERANCE and two.processes == 2, "DDP over NCCL (2 GPUs)",
                 f"|Δ bpc_joint| {gap:.4f} against 1 process with grad_accum=2 (< {DDP_TOLERANCE}); "
                 f"{steps_per_second(two) / steps_per_second(one):.2f}x its steps/s")


def kv_difference(run: Path, data: Path, device: torch.device) -> tuple[float, int]:
    """Max |logit difference| between decoding a validation window token by
    token with the KV cache and one full forward pass, in float32; positions."""
    from grid_dsl.data.dataset import Dataset
    from model.network import checkpoint
    from model.training.batches import Batches
    from model.training.evaluate import select
    from model.network.transformer import KVCache

    state = checkpoint.load(run)
    ds = Dataset.open(data)
    net = state.network().to(device).eval()
    main, meta = Batches(ds, "val", net.config.block_size, 2).fixed(1, seed=0)[0]
    main, meta = main.to(device), select(meta, checkpoint.check_data(state, ds, same_spec=True)).to(device)
    with torch.inference_mode():
        idx, axis_in, _, _ = net.align(main, meta)
        full, _ = net.logits(idx, axis_in)
        cache = KVCache()
        steps = [net.logits(idx[:, t : t + 1], None if axis_in is None else axis_in[:, t : t + 1], cache)[0]
                 for t in range(idx.size(1))]
    return (torch.cat(steps, 1) - full).abs().max().item(), idx.size(1)


def check_kv(report: Report, run: Path | None, data: Path, device: torch.device, chars: int) -> None:
    import bench_model

    if run is not None:
        diff, positions = kv_difference(run, data, device)
        report.check(diff < KV_TOLERANCE, "KV cache = full forward (float32)", f"max |Δ logit| {diff:.2e} over "
                     f"{positions} positions (< {KV_TOLERANCE})")
    times = bench_model.time_sampling(chars, device=device)
    report.line("INFO", f"sample {chars} chars, block 256", f"KV cache {times['KV cache']:.2f} s, recompute "
                f"{times['recompute']:.2f} s: {times['recompute'] / times['KV cache']:.1f}x")


def check_cli(report: Report, run: Path | None, data: Path, device: torch.device) -> None:
    if run is None:
        report.check(False, f"eval and sample on {device}", "no compiled run to use")
        return
    evaluated = multigrid("eval", str(run), "--data", str(data), "--device", str(device), "--json")
    sampled = multigrid("sample", str(run), "--chars", "200", "--device", str(device), "--show-grid")
    report.check(evaluated.returncode == 0 and sampled.returncode == 0, f"eval and sample on {device}",
                 f"exit {evaluated.returncode} and {sampled.returncode}")


def check_hierarchy(report: Report, data: Path, out: Path, base: dict, steps: int, flat: Path | None,
                    device: torch.device) -> None:
    hierarchy = {"boundary": "every:8", "global_layers": 2, "local_window": base["block_size"] // 4}
    budget = {"max_iters": steps, "eval_interval": max(1, steps // 2)}
    runs = {name: train(data, out / "runs" / f"hier-{name}", {**base, **VARIANTS[name], **hierarchy, **budget})
            for name in ("float32", "bf16+compile")}
    ok = all(m is not None and math.isfinite(m.bpc_joint) for m in runs.values())
    if not ok:
        report.check(False, "hierarchy: train float32 and bf16+compile", "a run failed")
        return
    gap = abs(runs["bf16+compile"].bpc_joint - runs["float32"].bpc_joint)
    report.check(gap < BF16_TOLERANCE, "hierarchy: bf16+compile vs float32",
                 f"|Δ bpc_joint| {gap:.4f} (< {BF16_TOLERANCE}); boundary rate {runs['float32'].boundary_rate:.3f}")
    diff, positions = kv_difference(out / "runs" / "hier-float32", data, device)
    report.check(diff < KV_TOLERANCE, "hierarchy: KV cache = full forward (float32)",
                 f"max |Δ logit| {diff:.2e} over {positions} positions (< {KV_TOLERANCE})")
    if flat is not None:
        flat_metrics = metrics.load(flat)
        ratio = steps_per_second(flat_metrics) / steps_per_second(runs["bf16+compile"])
        report.line("INFO", "hierarchy vs flat (bf16+compile)", f"step time {ratio:.2f}x the flat model's "
                    f"(estimated FLOPs {runs['bf16+compile'].flops_per_char / flat_metrics.flops_per_char:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to put data and runs (a temporary directory)")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run (300)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cuda:N; cpu with --tiny checks the script")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and corpus: seconds, to check the script")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"torch {torch.__version__} sees no CUDA device: run this on a GPU machine", file=sys.stderr)
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="check-cuda-"))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {where}; runs in {out}", flush=True)
    base = {**(TINY_CONFIG if args.tiny else GPU_CONFIG), "device": args.device}
    report = Report()
    started = time.perf_counter()
    data = compile_data(out, stories=20 if args.tiny else 400)
    run = check_training(report, data, out, base, args.steps)
    check_ddp(report, data, out, base, args.steps)
    check_kv(report, run, data, device, chars=100 if args.tiny else 1000)
    check_cli(report, run, data, device)
    check_hierarchy(report, data, out, base, args.steps, run, device)
    print(f"{report.failed} failed; {time.perf_counter() - started:.0f} s", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
