"""`multigrid distill`: one proposer, one candidate axis, checked, written.

    multigrid distill RUN --data DIR --out NEW.axes [--layer L] [--clusters K] [--max-depth D]
                      [--sample N] [--seed S] [--best] [--device D]
                      [--proposer clusters|lexemes|surprisal|residual|operators|teacher]
                      [--teacher RUN] [--min-gain BITS]

Reads the run's checkpoint and the dataset it was trained on, runs the
proposer (model/experiments/proposers.py), checks the candidate (model/experiments/candidates.py)
and writes NEW.axes atomically: the dataset's spec, the new axis fed as
context, and a header comment saying where it came from and how well it
fits. `--layer` (default: the last block) and `--clusters` are the k-means
proposer's; surprisal uses `--clusters` as its number of loss buckets. The
lexeme proposer may make two candidates (words, phrases): the second is
written beside the first, as NEW.hard_phrases.axes; so may `operators` (its
best few operators), as NEW.NAME.axes.

The long-range proposers (model/experiments/longrange_proposers.py) read
what the run cannot see from its window: `residual` (where it is wrong,
from long-range features), `operators` (latest/first/count/since/nesting
over the spec's axes, ranked by what they tell about the next character)
and `teacher` (`--teacher RUN`, a stronger run on the same dataset: a
longer block, or more steps). Each proposes only what beats a control with
the long-range features shuffled by `--min-gain` bits/char.

Exit codes: 0 written; 2 a user error (bad option, checkpoint or dataset) or
no candidate that could be made and passed the checks, with the reasons;
nothing is written then. A candidate discarded beside one written is a
warning on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grid_dsl.cli import argtypes


def add_commands(commands) -> None:
    from model.cli.train import _device  # (model.cli.train imports nothing heavy; proposers import torch, so they wait for run)

    cmd = commands.add_parser("distill", help="distil a run into a new causal axis (rules or a lexicon)",
                              description="Distil a trained run into a new causal axis, written as a complete .axes spec.")
    cmd.add_argument("run_dir", metavar="RUN", help="a run directory (its ckpt.pt) or a checkpoint file")
    cmd.add_argument("--data", required=True, metavar="DIR", help="the compiled dataset the run was trained on")
    cmd.add_argument("--out", required=True, metavar="NEW.axes", help="the spec file to write")
    cmd.add_argument("--proposer", default="clusters", metavar="NAME",
                     help="what to distil: clusters (default), surprisal or lexemes (the run itself, from its last "
                          "few characters); residual, operators or teacher (long-range state it cannot see)")
    cmd.add_argument("--teacher", metavar="RUN", help="teacher: a stronger run on the same dataset (e.g. block_size "
                                                      "4x the run's, or 5x the steps)")
    cmd.add_argument("--min-gain", type=argtypes.fraction, default=0.001, metavar="BITS",
                     help="residual, operators, teacher: bits/char beyond the model and over the shuffled control "
                          "a candidate must give (0.001)")
    cmd.add_argument("--layer", type=argtypes.seed, metavar="L", help="block whose output is clustered (default: the last)")
    cmd.add_argument("--clusters", type=argtypes.whole(2), default=8, metavar="K", help="k-means clusters / loss buckets (8)")
    cmd.add_argument("--max-depth", type=argtypes.whole(1), default=4, metavar="D", help="depth of the decision tree (4)")
    cmd.add_argument("--sample", type=argtypes.whole(10), default=4000, metavar="N", help="positions sampled (4000)")
    cmd.add_argument("--seed", type=argtypes.seed, default=0, metavar="S", help="seed of the sample, k-means, tree (0)")
    cmd.add_argument("--best", action="store_true", help="read RUN/best.pt instead of RUN/ckpt.pt")
    cmd.add_argument("--device", type=_device, default="auto", metavar="D", help="auto, cpu, cuda, cuda:N or mps (auto)")
    cmd.set_defaults(run=run_distill)


def run_distill(args) -> int:
    import numpy as np

    from grid_dsl.data.dataset import Dataset
    from grid_dsl.data.files import write_atomically
    from grid_dsl.language.diagnostics import UserError, did_you_mean

    from model.network import checkpoint
    from model.network.config import resolve_device
    from model.training.context import require_honest_context
    from model.experiments.distill import base_spec_text, check_layer
    from model.experiments.longrange_proposers import load_teacher
    from model.experiments.proposers import PROPOSERS, Settings, run_proposers

    if args.proposer not in PROPOSERS:
        raise UserError(f"unknown proposer {args.proposer!r}; "
                        + (did_you_mean(args.proposer, PROPOSERS) or f"the proposers are: {', '.join(PROPOSERS)}"))
    out = Path(args.out)
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; name the .axes file to write")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist")
    state = checkpoint.load(args.run_dir, best=args.best)
    file = checkpoint.resolve(args.run_dir, args.best)
    ds = Dataset.open(args.data)
    checkpoint.check_data(state, ds, same_spec=False, file=file)
    require_honest_context(ds, "distill")
    net = state.network().to(resolve_device(args.device))
    if args.layer is not None:
        check_layer(net, args.layer)
    if args.proposer == "teacher":
        load_teacher(args.teacher, ds)  # a missing or unfit teacher: the error names --teacher, before any work
    if args.clusters > args.sample:
        raise UserError(f"--clusters {args.clusters} is larger than --sample {args.sample}: k-means needs at least "
                        "one sampled position per cluster")
    settings = Settings(layer=args.layer, clusters=args.clusters, max_depth=args.max_depth, sample=args.sample,
                        origin=f"{file} (step {state.step:,})", teacher=args.teacher, min_gain=args.min_gain)
    proposer = PROPOSERS[args.proposer](settings)
    candidates, failures = run_proposers([proposer], net, ds, base_spec_text(ds), np.random.default_rng(args.seed),
                                         report=None)  # the error below says it
    if not candidates:
        raise UserError("distill: candidate discarded: " + "; ".join(f.reason for f in failures) + "; nothing written")
    for failure in failures:
        print(f"multigrid: warning: {failure.describe()}", file=sys.stderr)
    for i, candidate in enumerate(candidates):  # one, except lexemes' words and phrases, operators' best few
        path = out if i == 0 else out.with_name(f"{out.stem}.{candidate.name}{out.suffix or '.axes'}")
        write_atomically(path, candidate.text)
        print(f"{path}: new axis {candidate.name!r} ({candidate.proposer}), fed as context")
        print(f"  {candidate.description}")
    print(f"checked: parses, checks, canonical, causal (declared, and prefix-stable on {ds.path}), alignment properties",
          file=sys.stderr)
    return 0
