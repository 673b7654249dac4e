"""`multigrid compile` and `multigrid merge`: corpora into datasets.

    multigrid compile SPEC CORPUS --out DIR [--val-fraction F] [--seed S]
                      [--workers N] [--shard I/N] [--encoding E] [--errors H]
                      [--check-budget B] [--allow-leaks]
    multigrid merge SHARD_DIR... --out DIR

CORPUS is anything `grid_dsl.data.corpora.open_corpus` opens: a .txt file, a
folder of .txt files, a built-in name (grimm, andersen, tinyshakespeare) or
`synthetic[:stories=N,seed=S]`. The dataset format and how it is written
(split, workers, shards, streaming, atomic replacement, incremental
recompilation) are described in `grid_dsl.data.dataset`, `grid_dsl.data.build` and
`grid_dsl.data.merge`. A progress bar goes to stderr (on a terminal); a summary to stdout.

Compiling also prefix-checks every axis a `context` feed reads on the
corpus's own documents (grid_dsl.data.prefix_check): an axis declared causal
whose labels or spans change when the text after a position changes stops
the compile with exit 2 and a located report. `--check-budget B` sets the
characters the check compiles, as a share of the corpus (0.2; more cuts
for a larger B); `--allow-leaks` compiles anyway and labels the dataset, and
every run that reads a failing axis, LEAKY.
"""

from __future__ import annotations

import sys

from grid_dsl.cli import argtypes


def run_compile(args) -> int:
    from grid_dsl.data.build import Shard, compile_corpus
    from grid_dsl.data.inputs import load_plan, print_warnings
    from grid_dsl.data.corpora import open_corpus

    plan = load_plan(args.spec)
    print_warnings(plan)
    shard = Shard.parse(args.shard) if args.shard else None
    corpus = open_corpus(args.corpus, encoding=args.encoding, errors=args.errors)
    summary = compile_corpus(plan, corpus, args.out, val_fraction=args.val_fraction, seed=args.seed,
                             workers=args.workers, shard=shard, progress=True, check_budget=args.check_budget,
                             allow_leaks=args.allow_leaks)
    for line in summary.lines():
        print(line)
    sys.stdout.flush()
    for line in summary.warnings():
        print(line, file=sys.stderr)
    return 0


def run_merge(args) -> int:
    from grid_dsl.data.merge import merge_shards

    summary = merge_shards(args.shards, args.out, progress=True)
    for line in summary.lines():
        print(line)
    return 0


def add_commands(subparsers) -> None:
    compile_cmd = subparsers.add_parser("compile", help="compile a corpus with a spec into a dataset directory")
    compile_cmd.add_argument("spec", metavar="SPEC", help="the .axes spec")
    compile_cmd.add_argument("corpus", metavar="CORPUS",
                             help="a .txt file, a folder of .txt files, grimm | andersen | tinyshakespeare, "
                                  "or synthetic[:stories=N,seed=S]")
    compile_cmd.add_argument("--out", required=True, metavar="DIR", help="the dataset directory to write")
    compile_cmd.add_argument("--val-fraction", type=argtypes.fraction, default=0.1, metavar="F",
                             help="share of documents (of the text, for one document) held out for validation (0.1)")
    compile_cmd.add_argument("--seed", type=argtypes.seed, default=0, metavar="S", help="seed of the split (0)")
    compile_cmd.add_argument("--workers", type=argtypes.positive, default=1, metavar="N", help="compiling processes (1)")
    compile_cmd.add_argument("--shard", metavar="I/N",
                             help="compile only the I-th (from 0) of N document ranges; join with `multigrid merge`")
    compile_cmd.add_argument("--check-budget", type=argtypes.share, default=None, metavar="B",
                             help="characters the prefix check compiles, as a share of the corpus (0.2)")
    compile_cmd.add_argument("--allow-leaks", action="store_true",
                             help="compile even if a context axis fails the prefix check; the dataset and runs "
                                  "reading that axis are labelled LEAKY")
    compile_cmd.add_argument("--encoding", default="utf-8", metavar="E", help="text encoding of the corpus (utf-8)")
    compile_cmd.add_argument("--errors", default="strict", choices=("strict", "replace", "ignore", "surrogateescape"),
                             help="what to do with bytes that do not decode (strict: stop with an error)")
    compile_cmd.set_defaults(run=run_compile)

    merge_cmd = subparsers.add_parser("merge", help="join the shards of a sharded compile into one dataset")
    merge_cmd.add_argument("shards", nargs="+", metavar="SHARD_DIR")
    merge_cmd.add_argument("--out", required=True, metavar="DIR", help="the dataset directory to write")
    merge_cmd.set_defaults(run=run_merge)
