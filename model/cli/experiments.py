"""multigrid demo, compare, equal-compute and expansion-cost: the experiments' commands.

The experiments themselves live in model/experiments (demo.py, compare.py,
costs.py); this module only wires their arguments.
"""

from __future__ import annotations

from grid_dsl.cli import argtypes
from model.experiments import compare, costs, demo
from model.network.config import add_overrides


def add_commands(commands) -> None:
    add_demo(commands)
    add_compare(commands)
    add_costs(commands)


def add_demo(commands) -> None:
    cmd = commands.add_parser("demo", help="synthetic tales -> compiled grid -> baseline and grid model, compared",
                              description=demo.__doc__.split("\n\n")[0])
    cmd.add_argument("--out", default=demo.DEFAULT_OUT, metavar="DIR", help=f"where to put data and runs ({demo.DEFAULT_OUT})")
    cmd.add_argument("--stories", type=argtypes.positive, default=400, metavar="N", help="synthetic tales (400: about 1.1 MB)")
    cmd.add_argument("--steps", type=argtypes.positive, default=2000, metavar="N", help="training steps of each model (2000)")
    add_overrides(cmd, "training config keys, e.g. device=cuda")
    cmd.set_defaults(run=demo.run_demo)




def add_compare(commands) -> None:
    cmd = commands.add_parser("compare", help="train a baseline and specs over seeds and a sweep; tabulate",
                              description="Compare specs (and a baseline) over seeds on one data split.")
    cmd.add_argument("--corpus", required=True, metavar="C", help="a .txt file, a folder, a built-in corpus or synthetic")
    cmd.add_argument("--spec", action="append", required=True, metavar="A.axes", help="a spec to compare (repeatable)")
    cmd.add_argument("--baseline", action="store_true", help="also train the model without axes (axes=none)")
    cmd.add_argument("--seeds", type=argtypes.positive, required=True, metavar="N", help="runs per configuration")
    budget = cmd.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=argtypes.positive, metavar="S", help="steps per run (max_iters)")
    budget.add_argument("--max-time", type=argtypes.seconds, metavar="T",
                        help="seconds of wall clock per run (the learning rate still decays over max_iters: "
                             "set it to the steps T allows, or add --probe-steps)")
    budget.add_argument("--flops", type=argtypes.flops, metavar="F",
                        help="estimated training FLOPs per run (each configuration's steps from its FLOPs per step)")
    cmd.add_argument("--probe-steps", type=argtypes.positive, metavar="N",
                     help="with --max-time: train each configuration N steps first to time it, and set its "
                          "max_iters to the steps 0.95 T allows")
    cmd.add_argument("--sweep", action="append", default=[], metavar="key=v1,v2",
                     help="a config key's values (repeatable: a grid)")
    cmd.add_argument("--match-params", choices=("width", "depth"), help="match the baseline's parameter count")
    cmd.add_argument("--val-fraction", type=argtypes.fraction, default=0.1, metavar="F", help="validation share (0.1)")
    cmd.add_argument("--data-seed", type=argtypes.seed, default=0, metavar="S", help="seed of the split (0)")
    cmd.add_argument("--config", metavar="FILE.toml", help="a TOML file of config keys (model/network/config.py)")
    add_overrides(cmd, "config overrides for every run")
    cmd.add_argument("--out", required=True, metavar="DIR", help="the comparison's directory")
    cmd.set_defaults(run=compare.run)


def add_costs(commands) -> None:
    eq = commands.add_parser("equal-compute", help="an improve loop's rounds against training longer from scratch",
                             description="Train the loop's starting spec and the baseline for the loop's total "
                                         "steps; print each round's model beside them.")
    eq.add_argument("improve_dir", metavar="IMPROVE_DIR", help="the --out of `multigrid improve`")
    eq.add_argument("--out", metavar="DIR", help="where the from-scratch runs go (IMPROVE_DIR/equal_compute)")
    eq.set_defaults(run=costs.run_equal_compute)
    ex = commands.add_parser("expansion-cost", help="steps for an expanded run to match training from scratch",
                             description="The steps and seconds an expanded run took to reach the final "
                                         "bpc_joint of a run trained from scratch with the same spec.")
    ex.add_argument("scratch", metavar="SCRATCH_RUN", help="a run trained from scratch with the new spec")
    ex.add_argument("expanded", metavar="EXPANDED_RUN", help="the old run expanded to the new spec (multigrid expand)")
    ex.add_argument("--old", metavar="OLD_RUN", help="the run that was expanded, to count its steps too")
    ex.set_defaults(run=costs.run_expansion_cost)
