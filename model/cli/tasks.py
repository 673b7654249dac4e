"""multigrid eval-task RUN --task NAME [--n N]: exact-match accuracy by size
(model/experiments/tasks.py says what is measured and written)."""

from __future__ import annotations

import sys
from pathlib import Path

from grid_dsl.cli import argtypes


def add_commands(commands) -> None:
    from model.cli.train import _device

    cmd = commands.add_parser("eval-task", help="exact-match accuracy of a run on a task, size by size",
                              description=__doc__.split("\n\n")[0])
    cmd.add_argument("run_dir", metavar="RUN", help="a run directory (its ckpt.pt) or a checkpoint file")
    cmd.add_argument("--task", required=True, metavar="TASK",
                     help="a task and the sizes to evaluate, e.g. addition:digits=1-30 (its generator's options)")
    cmd.add_argument("--n", type=argtypes.positive, default=100, metavar="N", help="prompts per size (100)")
    cmd.add_argument("--seed", type=argtypes.seed, default=0, metavar="S", help="seed of the prompts (0)")
    cmd.add_argument("--best", action="store_true", help="evaluate RUN/best.pt instead of RUN/ckpt.pt")
    cmd.add_argument("--device", type=_device, default="auto", metavar="D", help="auto, cpu, cuda, cuda:N or mps (auto)")
    cmd.add_argument("--out", metavar="DIR", help="where the results go (RUN/eval-task/KIND)")
    cmd.set_defaults(run=run_eval_task)


def run_eval_task(args) -> int:
    from grid_dsl.data.tasks import parse_task

    from model.experiments import tasks
    from model.network import checkpoint
    from model.network.config import resolve_device
    from model.training.context import generation_context
    from model.training.evaluate import LEAKY_LABEL

    task = parse_task(args.task)
    state = checkpoint.load(args.run_dir, best=args.best)
    file = checkpoint.resolve(args.run_dir, args.best)
    net = state.network().to(resolve_device(args.device)).eval()
    tasks.check_task(task, state.data, net.config.block_size, file, args.n, args.seed)
    context_fn = generation_context(state.data, net.config, file)
    leaky = state.data.leaky
    if leaky:
        print(f"{file}: {LEAKY_LABEL} (it reads leaky axes; their labels here are computed from the text written)",
              file=sys.stderr)

    def show(r):
        print(f"{task.kind} size {r.size}: {r.correct}/{r.prompts} exact ({r.accuracy:.1%})", file=sys.stderr, flush=True)

    results = tasks.evaluate(net, state.data, task, args.n, args.seed, context_fn=context_fn, progress=show)
    run_dir = file.parent
    out = Path(args.out) if args.out else run_dir / "eval-task" / task.kind
    tasks.write(out, results, task, str(args.run_dir), args.n, args.seed, LEAKY_LABEL if leaky else "honest")
    tasks.log_tensorboard(run_dir, results, task)
    print(tasks.table(results, task))
    print(f"\n{out}/results.json, results.md, accuracy.png" + (f"  [{LEAKY_LABEL}]" if leaky else ""))
    return 0
