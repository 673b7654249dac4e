"""`multigrid compare`: a baseline and specs over seeds and a sweep, on one split.

    multigrid compare --corpus C --spec A.axes [--spec B.axes ...] [--baseline] --seeds N
                      [--steps S | --max-time T [--probe-steps N] | --flops F] [--sweep key=v1,v2 ...]
                      [--match-params width|depth]
                      [--val-fraction F] [--data-seed S] [--config FILE.toml] [key=value ...] --out DIR

Each spec is compiled once over the corpus C (anything `open_corpus` opens)
with the same --val-fraction and split seed; the specs must give the same
main stream (checked), so every configuration trains and is scored on the
same text. `--baseline` adds the model without axes, trained on the first
spec's dataset with `axes=none`: the same main stream and split by
construction. Every configuration (baseline and spec, at every point of the
`--sweep` grid) is trained N times with seeds seed, seed+1, ... (the
config's seed), all with the config's eval_seed, so every run is scored on
the same validation batches; at equal steps (--steps: max_iters) or equal
wall clock (--max-time per run; max_iters still caps the steps and shapes
the learning-rate schedule; --probe-steps N sets each configuration's
max_iters to the steps a probe of its speed says fit: wallclock.py) or
equal estimated training compute (--flops:
each configuration runs the steps whose FLOPs, model/network/flops.py,
come closest to F; a hierarchical model's cheaper steps buy it more of
them). Runs of the same seed share the backbone's
initialisation and the training batches, which is why differences to the
baseline are paired by seed (model/experiments/report.py).

`--match-params width|depth` gives each grid configuration the n_embd (a
multiple of n_head) or n_layer whose parameter count (num_params) is the
closest to its baseline's, so that a gain cannot be bought with parameters.

    DIR/compare.json              the settings and every configuration (compare_plan.py); a rerun must match them
    DIR/data/<spec>/              the compiled datasets
    DIR/probe/<config>/           with --probe-steps: each configuration's probe (wallclock.py)
    DIR/runs/<config>/seed<i>/    one training run each (model/training/train.py); DIR/runs is the
                                  TensorBoard log directory of them all, hyper-parameters included
    DIR/results.csv, results.md, results.png      (model/experiments/report.py)

Resumable: rerunning the same command skips finished runs (metrics.json
stopped at max_iters or max_time), resumes an unfinished one from its
ckpt.pt and starts again one killed before its first checkpoint. Other
settings for an existing DIR are a user error (exit 2) naming what changed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import sys
from pathlib import Path

import attrs

from grid_dsl.language.diagnostics import UserError

from model.experiments import compare_plan
from model.experiments.compare_plan import ComparePlan, Configuration, FlopsPlan, Matched, Settings, SpecRef
from model.experiments.wallclock import at_wall_clock
from model.network import checkpoint, metrics
from model.network.metrics import RunMetrics
from model.network.config import TrainConfig, parse_value, unknown_key

BASELINE = "baseline"
FIXED_KEYS = ("seed", "eval_seed")  # set by the comparison: --seeds, and one set of validation batches
BASELINE_IGNORES = ("fusion", "axes")  # keys that change nothing in a model without axes


def run(args) -> int:
    from grid_dsl.data.inputs import load_plan, print_warnings

    from model.experiments.report import write_report

    out = Path(args.out)
    if args.match_params and not args.baseline:
        raise UserError("--match-params matches each configuration to the baseline's parameter count: add --baseline")
    if args.probe_steps and not args.max_time:
        raise UserError("--probe-steps times each configuration to fit its steps into --max-time T: add --max-time")
    plans = {}
    for path in args.spec:
        name = Path(path).stem
        if name in plans or (args.baseline and name == BASELINE):
            raise UserError(f"--spec {path}: the name {name!r} is taken (configurations are named after the spec "
                            "file, and `baseline` is the baseline's); rename or copy the file")
        plans[name] = load_plan(path)
        print_warnings(plans[name])
    base = TrainConfig.load(args.config, args.overrides)
    if args.steps:
        base = base.replace(max_iters=args.steps)
    sweep = parse_sweep(args.sweep)
    settings = Settings(corpus=args.corpus, specs=tuple(SpecRef(n, p.spec_hash) for n, p in plans.items()),
                        baseline=args.baseline, seeds=args.seeds, steps=args.steps, max_time=args.max_time,
                        flops=args.flops, probe_steps=args.probe_steps,
                        sweep={key: tuple(text for text, _ in values) for key, values in sweep.items()},
                        match_params=args.match_params, val_fraction=args.val_fraction, data_seed=args.data_seed,
                        config=base.to_dict())
    check_settings(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    ComparePlan(settings).write(out)  # a rerun after a failed compile is checked against these settings

    datasets = compile_specs(plans, args.corpus, out, args.val_fraction, args.data_seed)
    configs = plan_configurations(datasets, base, sweep, args.baseline, args.match_params)
    if args.flops:
        configs = [at_flops(entry, datasets[entry.data], args.flops) for entry in configs]
    if args.probe_steps:
        configs = [at_wall_clock(entry, datasets[entry.data], args.max_time, args.probe_steps, out)
                   for entry in configs]
    ComparePlan(settings, tuple(configs)).write(out)

    total, done = len(configs) * args.seeds, 0
    for entry in configs:
        config = entry.train_config
        for i in range(args.seeds):
            done += 1
            run_dir = out / "runs" / entry.name / f"seed{i}"
            train_run(datasets[entry.data], run_dir, config.replace(seed=config.seed + i), args.max_time,
                      f"[{done}/{total}] {entry.name}/seed{i}")
    markdown = write_report(out)
    print(markdown)
    print(f"tensorboard --logdir {out / 'runs'}")
    return 0


# ---------------------------------------------------------------- planning


def parse_sweep(items: list[str]) -> dict[str, list[tuple[str, object]]]:
    """`key=v1,v2` items -> {key: [(text, typed value), ...]}, each checked."""
    fields = attrs.fields_dict(TrainConfig)
    sweep = {}
    for item in items:
        key, sep, values = (part.strip() for part in item.partition("="))
        where = f"--sweep {item!r}"
        texts = [v.strip() for v in values.split(",")]
        if not sep or not key or not all(texts):
            raise UserError(f"{where}: expected key=v1,v2,..., e.g. --sweep learning_rate=1e-3,3e-3")
        if key not in fields:
            raise UserError(unknown_key(key, where))
        if key in FIXED_KEYS:
            raise UserError(f"{where}: {key} is set by the comparison (seeds: --seeds N counts up from the config's "
                            "seed; eval_seed: every run is scored on the same batches); sweep another key")
        if key in sweep or len(set(texts)) != len(texts):
            raise UserError(f"{where}: {key} is swept twice or repeats a value; give each key once, each value once")
        bad = [t for t in texts if "/" in t or t.startswith(".")]
        if bad:
            raise UserError(f"{where}: value {bad[0]!r} cannot be part of a run directory's name")
        sweep[key] = [(text, parse_value(key, text, fields[key].type, where)) for text in texts]
    return sweep


def check_settings(out: Path, settings: Settings) -> None:
    """UserError when `out` holds a comparison made with other settings."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a directory for the comparison")
    if not (out / compare_plan.FILE).exists():
        if out.is_dir() and any(out.iterdir()):
            raise UserError(f"--out {out} is not empty and holds no {compare_plan.FILE}: choose a new directory "
                            "for the comparison")
        return
    # plain values, so a setting an older plan did not record compares as its default
    stored, given = compare_plan.load(out).settings.to_dict(), settings.to_dict()
    changed = [f"{key} {stored[key]!r} -> {value!r}" for key, value in given.items()
               if key != "config" and stored[key] != value]
    old = stored["config"]
    changed += [f"{key} {old.get(key)!r} -> {value!r}" for key, value in given["config"].items() if old.get(key) != value]
    if changed:
        raise UserError(f"{out} holds a comparison with other settings ({'; '.join(changed)}); rerun it with the "
                        "same command to resume it, or choose another --out for a new comparison")


def compile_specs(plans: dict, corpus_ref: str, out: Path, val_fraction: float, data_seed: int) -> dict:
    """Every spec compiled into out/data/<name> (up-to-date ones are left as
    they are); UserError unless they all give the same main stream."""
    from grid_dsl.data.build import compile_corpus
    from grid_dsl.data.corpora import open_corpus
    from grid_dsl.data.dataset import Dataset

    corpus = open_corpus(corpus_ref)
    datasets, signatures = {}, {}
    for name, plan in plans.items():
        folder = f"data/{name}"
        summary = compile_corpus(plan, corpus, out / folder, val_fraction=val_fraction, seed=data_seed, progress=True)
        print("\n".join(summary.lines() + summary.warnings()), file=sys.stderr)
        datasets[folder] = Dataset.open(out / folder)
        signatures[name] = main_signature(datasets[folder])
    first = next(iter(signatures))
    for name, signature in signatures.items():
        if signature != signatures[first]:
            raise UserError(f"specs {first} and {name} give different main streams on {corpus_ref} (their `main` "
                            "lines differ: unit, normalize, newlines or lowercase); configurations compare only "
                            "on the same text, so give every spec the same `main` line")
    return datasets


def main_signature(ds) -> str:
    """A hash of what every configuration must share: the main vocabulary
    and the main stream and document starts of both splits."""
    digest = hashlib.sha256(json.dumps([ds.unit, ds.main_vocab], ensure_ascii=False).encode())
    for split in ("train", "val"):
        for stream in ("main", "docs"):
            with open(ds.file(split, stream), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def plan_configurations(datasets: dict, base: TrainConfig, sweep: dict, baseline: bool,
                        match: str | None) -> list[Configuration]:
    """Every configuration, sweep point by sweep point: the baseline (one per
    distinct point of the keys that matter without axes), then each spec."""
    configs, baselines = [], {}
    first = next(iter(datasets))  # the baseline's data: any spec's main stream and split would do
    for values in itertools.product(*sweep.values()):
        point = dict(zip(sweep, values))
        reference = None
        if baseline:
            kept = {k: v for k, v in point.items() if k not in BASELINE_IGNORES}
            name = config_name(BASELINE, kept)
            if name not in baselines:
                config = base.replace(**{k: v for k, (_, v) in kept.items()}, axes="none")
                baselines[name] = describe(name, None, first, kept, config, datasets[first])
                configs.append(baselines[name])
            reference = baselines[name]
        for folder, ds in datasets.items():
            spec = folder.removeprefix("data/")
            config = base.replace(**{k: v for k, (_, v) in point.items()})
            entry = describe(config_name(spec, point), spec, folder, point, config, ds)
            if reference is not None:
                entry = attrs.evolve(entry, baseline=reference.name)
                if match:
                    entry = matched(entry, ds, reference.parameters, match)
            configs.append(entry)
    return configs


def config_name(stem: str, point: dict) -> str:
    return ",".join([stem] + [f"{key}={text}" for key, (text, _) in point.items()])


def describe(name: str, spec: str | None, folder: str, point: dict, config: TrainConfig, ds) -> Configuration:
    return Configuration(name=name, spec=spec, data=folder, sweep={k: text for k, (text, _) in point.items()},
                         config=config.to_dict(), parameters=count_parameters(config, ds))


def count_parameters(config: TrainConfig, ds) -> int:
    """num_params() of the model train() builds from `config` and `ds`."""
    import torch

    from model.network.transformer import GridTransformer
    from model.network.model_axes import grid_config, model_axes

    with torch.random.fork_rng(devices=[]):  # building a model draws from the global generator
        return GridTransformer(grid_config(config, ds, model_axes(ds, config.axes))).num_params()


def matched(entry: Configuration, ds, target: int, how: str) -> Configuration:
    """`entry` with the n_embd (width) or n_layer (depth) whose parameter
    count is the closest to `target` (on a tie, the smaller)."""
    config = entry.train_config
    key, unit = ("n_embd", config.n_head) if how == "width" else ("n_layer", 1)
    counts = {}

    def count(k: int) -> int:  # parameters with key = k * unit: increasing in k
        if k not in counts:
            counts[k] = count_parameters(config.replace(**{key: k * unit}), ds)
        return counts[k]

    high = 1
    while count(high) < target:
        high *= 2
    low = max(1, high // 2)
    while low < high:  # the smallest k with count(k) >= target
        middle = (low + high) // 2
        low, high = (middle + 1, high) if count(middle) < target else (low, middle)
    best = min((k for k in (low - 1, low) if k >= 1), key=lambda k: (abs(count(k) - target), k))
    value = best * unit
    return attrs.evolve(entry, config=config.replace(**{key: value}).to_dict(), parameters=count(best),
                        matched=Matched(by=how, key=key, from_=getattr(config, key), to=value,
                                        unmatched_parameters=entry.parameters, baseline_parameters=target))


def training_flops_per_char(config: TrainConfig, ds) -> float:
    """The estimate train() records as metrics.json flops_per_char for this
    config on `ds` (the same boundary rate, measured on the same windows)."""
    from model.network import flops
    from model.network.model_axes import grid_config, model_axes

    return flops.estimate(grid_config(config, ds, model_axes(ds, config.axes)), ds)[0]


def at_flops(entry: Configuration, ds, budget: float) -> Configuration:
    """`entry` with the steps (max_iters, which also sets the learning-rate
    schedule) whose estimated training FLOPs come closest to `budget`."""
    config = entry.train_config
    per_char = training_flops_per_char(config, ds)
    per_step = per_char * config.batch_size * config.block_size * config.grad_accum
    steps = max(1, round(budget / per_step))
    return attrs.evolve(entry, config=config.replace(max_iters=steps).to_dict(),
                        flops=FlopsPlan(per_char=per_char, per_step=per_step, steps=steps, total=steps * per_step))


# ----------------------------------------------------------------- running


def finished(run: RunMetrics | None, config: TrainConfig) -> bool:
    return run is not None and run.finished(config.max_iters)


def train_run(ds, run_dir: Path, config: TrainConfig, max_time: float | None, label: str) -> None:
    """Train one run, or resume it, or leave it when it is finished."""
    from model.training.train import train

    if finished(metrics.read(run_dir), config):
        print(f"{label}: finished, skipped", file=sys.stderr)
        return
    resume, budget = (run_dir / checkpoint.LAST).exists(), max_time
    if resume:
        state = checkpoint.load(run_dir)
        if finished(state.metrics, config):  # stopped between writing ckpt.pt and metrics.json
            state.metrics.write(run_dir)
            print(f"{label}: finished, skipped", file=sys.stderr)
            return
        if max_time is not None:
            budget = max_time - state.seconds["wall"]
            if budget <= 0:  # its time ran out between its last checkpoint and the end
                state.metrics.write(run_dir)
                print(f"{label}: out of time at its last checkpoint, kept", file=sys.stderr)
                return
    elif run_dir.exists():  # killed before its first checkpoint: nothing to resume
        shutil.rmtree(run_dir)
    print(f"{label}: {'resuming from step ' + str(state.step) if resume else 'training'}", file=sys.stderr)
    try:
        train(ds, run_dir, config, resume=resume, max_time=budget)
    except UserError as err:
        raise UserError(f"run {run_dir}: {err} (finished runs are kept: rerunning the same `multigrid compare` "
                        "command skips them and resumes this one)") from None
