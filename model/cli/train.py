"""`multigrid train` and `multigrid eval`.

    multigrid train --data DIR --out RUN [--config FILE.toml] [--max-time SECONDS] [--resume] [key=value ...]
    multigrid eval RUN --data DIR [--split val] [--best] [--batch-size N] [--device D] [--json]

`train` trains a grid transformer on a compiled dataset (model/training/train.py
describes the loop, the run directory and how a run stops); the keys are
TrainConfig's (model/network/config.py). `eval` scores a run's checkpoint on every
position of a split (model/training/evaluate.py). Scores of a run that feeds an oracle
axis are always printed with the label "LEAKY — not an LM score".

Exit codes: 0 done; 2 a user error (bad option, config key, dataset or
checkpoint; a non-finite loss; Ctrl-C during training, after the checkpoint
is saved); 130 a second Ctrl-C, which aborts at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re

import attrs

from grid_dsl.cli import argtypes


def _device(value: str) -> str:
    from model.network.config import DEVICE_PATTERN

    if not re.fullmatch(DEVICE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {value!r}")
    return value


def add_commands(commands) -> None:
    from model.network.config import TrainConfig, add_overrides

    train_cmd = commands.add_parser(
        "train", help="train a grid transformer on a compiled dataset",
        description="Train a grid transformer. Configuration keys are written key=value after the\n"
                    "options (e.g. n_layer=2; --steps N is max_iters=N); they override a --config file, which\n"
                    "overrides the defaults.",
        epilog="configuration keys (key=default  meaning):\n" + TrainConfig.keys_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    train_cmd.add_argument("--data", required=True, metavar="DIR", help="a compiled dataset (multigrid compile)")
    train_cmd.add_argument("--out", required=True, metavar="RUN", help="the run directory")
    train_cmd.add_argument("--config", metavar="FILE.toml", help="a TOML file of config keys")
    train_cmd.add_argument("--max-time", type=argtypes.seconds, metavar="SECONDS", help="wall-clock budget of the loop")
    train_cmd.add_argument("--resume", action="store_true", help="continue the run in --out from its ckpt.pt")
    train_cmd.add_argument("--steps", type=argtypes.positive, metavar="N", help="training steps (the same as max_iters=N)")
    add_overrides(train_cmd, "config overrides, e.g. n_layer=2")
    train_cmd.set_defaults(run=run_train)

    eval_cmd = commands.add_parser("eval", help="score a run on every position of a split")
    eval_cmd.add_argument("run_dir", metavar="RUN", help="a run directory (its ckpt.pt) or a checkpoint file")
    eval_cmd.add_argument("--data", required=True, metavar="DIR", help="a compiled dataset with the run's vocabularies")
    eval_cmd.add_argument("--split", choices=("val", "train"), default="val", help="the split to score (val)")
    eval_cmd.add_argument("--best", action="store_true", help="score RUN/best.pt instead of RUN/ckpt.pt")
    eval_cmd.add_argument("--batch-size", type=argtypes.positive, default=32, metavar="N", help="windows per batch (32)")
    eval_cmd.add_argument("--device", type=_device, default="auto", metavar="D", help="auto, cpu, cuda, cuda:N or mps (auto)")
    eval_cmd.add_argument("--prefix-check", type=argtypes.seed, default=2000, metavar="N",
                          help="positions whose context labels are checked against their prefix (2000; 0 = none)")
    eval_cmd.add_argument("--json", action="store_true", help="print the scores as JSON")
    eval_cmd.set_defaults(run=run_eval)


# -------------------------------------------------------------------- train


def run_train(args) -> int:
    from grid_dsl.data.dataset import Dataset

    from model.network import checkpoint
    from model.network.config import TrainConfig, overrides_of
    from model.training.tensorboard import grid_sample_fn
    from model.network.model_axes import model_axes
    from model.training.train import train

    state = checkpoint.load(args.out) if args.resume else None  # memory-mapped: reading it again in train() is cheap
    config = TrainConfig.load(args.config, overrides_of(args), base=state.train_config if state else None)
    ds = Dataset.open(args.data)
    sample_fn = None
    if config.sample_interval:
        sample_fn = grid_sample_fn(ds, state.data.axes if state else model_axes(ds, config.axes), seed=config.seed)
    metrics = train(ds, args.out, config, resume=args.resume, max_time=args.max_time, sample_fn=sample_fn)
    if int(os.environ.get("RANK", "0")) == 0:
        print("\n".join(summary_lines(metrics, args.out)))
    return 0


def summary_lines(m, out) -> list[str]:
    """What `multigrid train` prints at the end: `m` is its RunMetrics."""
    label = f"  [{m.label}]" if m.leaky else ""
    axes = ", ".join(f"{a.name} {a.mode}" + (f" (weight {a.weight:g})" if a.mode == "predict" else "")
                     for a in m.axes) or "none (baseline)"
    bits = "".join(f", {name} {value:.4f}" for name, value in m.bits.items() if name != "main")
    lines = [
        f"{out}: {m.step:,} steps ({m.stopped}), {m.parameters:,} parameters, "
        f"{m.tokens_per_s:,.0f} tokens/s, {m.wall_time_s:.0f} s",
        f"val bpc_main {m.bpc_main:.4f}, bpc_joint {m.bpc_joint:.4f}{label}"
        + (f" (on the characters '{m.loss_mask}' labels)" if m.loss_mask else ""),
        f"axes: {axes}" + (f"; predict-axis bits{bits}" if bits else ""),
    ]
    if m.best:
        lines.append(f"checkpoints: {out}/ckpt.pt (last), {out}/best.pt (step {m.best.step:,}, "
                     f"bpc_joint {m.best.bpc_joint:.4f}){label}")
    lines.append(f"tensorboard --logdir {out}")
    return lines


# --------------------------------------------------------------------- eval


def run_eval(args) -> int:
    import torch

    from grid_dsl.data.dataset import Dataset

    from model.network import checkpoint
    from model.training.evaluate import LEAKY_LABEL, whole_split
    from model.network.config import resolve_device
    from model.training.context import referee_context

    state = checkpoint.load(args.run_dir, best=args.best)
    file = checkpoint.resolve(args.run_dir, args.best)
    ds = Dataset.open(args.data)
    columns = checkpoint.check_data(state, ds, same_spec=False, file=file)
    device = resolve_device(args.device)
    model = state.network().to(device)
    with torch.no_grad():
        scores = whole_split(model, ds, args.split, columns, batch_size=args.batch_size, progress=True)
    # The dataset scored on (perhaps not the one trained on): its own check
    # and its labels against the prefix's.
    axes = [attrs.evolve(a, prefix_failed=ds.manifest.axis(a.name).prefix_failed) for a in state.data.axes]
    referee = referee_context(ds, axes, args.prefix_check, args.split, boundary=state.grid().boundary_axis)
    leaky = checkpoint.reads_leaky(axes, referee)
    result = {
        "checkpoint": str(file),
        "step": state.step,
        "data": str(ds.path),
        "split": args.split,
        "positions": scores.positions,
        "leaky": leaky,
        "label": LEAKY_LABEL if leaky else "honest",
        "bpc_main": scores.bpc_main,
        "bpc_joint": scores.bpc_joint,
        "bits": scores.bits,
        "loss": scores.losses,
        "axes": [{"name": a.name, "mode": a.mode, "weight": a.weight, "bits": scores.bits.get(a.name)} for a in axes],
        "parameters": model.num_params(),
        "prefix_checked": referee.to_dict() if referee else None,
    }
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print("\n".join(eval_table(result)))
    return 0


def eval_table(r: dict) -> list[str]:
    label = f"  [{r['label']}]" if r["leaky"] else ""
    lines = [f"{r['checkpoint']} (step {r['step']:,}) on {r['data']}, split {r['split']}: "
             f"{r['positions']:,} positions, each scored once{label}", ""]
    rows = [("axis", "mode", "bits/char"), ("main", "-", f"{r['bits']['main']:.4f}")]
    rows += [(a["name"], a["mode"], "-" if a["bits"] is None else f"{a['bits']:.4f}") for a in r["axes"]]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines += ["", f"bpc_main   {r['bpc_main']:.4f}{label}", f"bpc_joint  {r['bpc_joint']:.4f}{label}"]
    check = r.get("prefix_checked")
    if check:
        lines.append(f"prefix check: {check['positions']:,} positions, {check['mismatches']:,} mismatches"
                     + (f" ({check['example']})" if check["example"] else ""))
    return lines
