"""`multigrid improve`: the self-improvement loop (model/experiments/improve.py).

    multigrid improve --spec S --corpus C --rounds R --seeds N --out DIR
                      [--steps N] [--candidate-steps N] [--proposers clusters,surprisal,lexemes]
                      [--teacher RUN] [--min-gain BITS]
                      [--clusters K] [--max-depth D] [--sample N] [--max-candidates M]
                      [--val-fraction F] [--data-seed S] [key=value ...]

The proposers: clusters, surprisal, lexemes distil the model itself;
residual, operators and teacher (with --teacher RUN, a stronger run on the
same corpus: a longer block, or more steps) read long-range state it cannot
see from its window (docs/experiments.md).

key=value pairs are training config keys (model/network/config.py) for every run
of the loop. Running the same command again resumes an interrupted loop;
the same --out with other settings is refused.

Exit codes: 0 done; 2 a user error (a bad option, spec or corpus; an --out
that holds something else).
"""

from __future__ import annotations

from grid_dsl.cli import argtypes
from grid_dsl.cli.argtypes import IntermixedParser
from grid_dsl.language.diagnostics import UserError, did_you_mean


def add_commands(commands) -> None:
    from model.network.config import add_overrides

    cmd = commands.add_parser("improve", help="distil the model into axes, add them back, keep what helps",
                              description=__doc__.split("\n\n")[0])
    cmd.__class__ = IntermixedParser  # key=value pairs may follow the options
    cmd.add_argument("--spec", required=True, metavar="S", help="the spec to start from")
    cmd.add_argument("--corpus", required=True, metavar="C", help="a file, folder, built-in name or synthetic")
    cmd.add_argument("--rounds", required=True, type=argtypes.positive, metavar="R", help="rounds of propose-and-measure")
    cmd.add_argument("--seeds", required=True, type=argtypes.whole(2), metavar="N", help="training seeds per candidate (>= 2)")
    cmd.add_argument("--out", required=True, metavar="DIR", help="the loop's directory (resumed when it exists)")
    cmd.add_argument("--steps", type=argtypes.positive, default=2000, metavar="N", help="steps of the first model (2000)")
    cmd.add_argument("--candidate-steps", type=argtypes.positive, default=300, metavar="N",
                     help="steps of each candidate and control expansion (300)")
    cmd.add_argument("--proposers", default="clusters,surprisal,lexemes", metavar="A,B",
                     help="the proposers to run, in order (clusters,surprisal,lexemes); the long-range ones: "
                          "residual, operators, teacher")
    cmd.add_argument("--teacher", metavar="RUN", help="the teacher proposer's stronger run, trained on the same corpus "
                                                      "(e.g. block_size 4x, or 5x the steps)")
    cmd.add_argument("--min-gain", type=argtypes.fraction, default=0.001, metavar="BITS",
                     help="residual, operators, teacher: bits/char over the shuffled control a candidate needs (0.001)")
    cmd.add_argument("--clusters", type=argtypes.whole(2), default=8, metavar="K", help="k-means clusters / buckets (8)")
    cmd.add_argument("--max-depth", type=argtypes.positive, default=4, metavar="D", help="decision-tree depth (4)")
    cmd.add_argument("--sample", type=argtypes.positive, default=4000, metavar="N", help="positions sampled per proposer (4000)")
    cmd.add_argument("--max-candidates", type=argtypes.positive, default=4, metavar="M", help="candidates measured per round (4)")
    cmd.add_argument("--val-fraction", type=argtypes.fraction, default=0.1, metavar="F", help="validation share (0.1)")
    cmd.add_argument("--data-seed", type=argtypes.seed, default=0, metavar="S", help="seed of the split and proposers (0)")
    add_overrides(cmd, "training config keys, e.g. n_layer=2")
    cmd.set_defaults(run=run_improve)


def run_improve(args) -> int:
    from model.experiments.improve import Loop
    from model.experiments.improve_state import Settings
    from model.experiments.proposers import PROPOSERS

    names = tuple(name.strip() for name in args.proposers.split(",") if name.strip())
    for name in names:
        if name not in PROPOSERS:
            hint = did_you_mean(name, list(PROPOSERS))
            raise UserError(f"--proposers: no proposer {name!r}; " + (f"{hint} " if hint else "")
                            + f"(the proposers: {', '.join(PROPOSERS)})")
    if not names:
        raise UserError("--proposers is empty; name at least one of " + ", ".join(PROPOSERS))
    if "teacher" in names:
        from model.network import checkpoint

        if not args.teacher:
            raise UserError("--proposers teacher needs --teacher RUN: a stronger run trained on the same corpus, e.g. "
                            "`multigrid train --data DIR --out runs/teacher block_size=256` (4x the block)")
        try:
            checkpoint.load(args.teacher)  # found and readable now; whether it fits each round's data, then
        except UserError as err:
            raise UserError(f"--teacher {args.teacher}: {err}") from None
    settings = Settings(spec=args.spec, corpus=args.corpus, rounds=args.rounds, seeds=args.seeds, steps=args.steps,
                        candidate_steps=args.candidate_steps, proposers=names, clusters=args.clusters,
                        max_depth=args.max_depth, sample=args.sample, max_candidates=args.max_candidates,
                        val_fraction=args.val_fraction, data_seed=args.data_seed, overrides=tuple(args.overrides),
                        teacher=args.teacher, min_gain=args.min_gain)
    loop = Loop(settings, args.out)
    loop.run()
    print()
    print((loop.out / "summary.md").read_text(encoding="utf-8"))
    print(f"the accepted spec of each round: {loop.out}/round_K.axes")
    print(f"tensorboard --logdir {loop.out}")
    return 0
