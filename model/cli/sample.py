"""`multigrid sample` and `multigrid expand`.

    multigrid sample RUN [--prompt P] [--chars N] [--temperature T] [--top-k K] [--seed S] [--show-grid]
                         [--fix AXIS=LABEL ...] [--best] [--device D] [--no-cache]
    multigrid expand RUN --spec NEW.axes --data DIR --out RUN2 [--freeze] [key=value ...]

`sample` continues a prompt with a run's model (model/network/generate.py), with
the KV cache: the next character and every predict axis's next label are
drawn jointly; the prompt's own predict labels are the model's too. Context
and oracle axes (and a hierarchical model's boundary axis) are what the
spec computes from the text written so far:
the run's spec (stored in the checkpoint) is compiled on the decoded prefix
at every step, each label mapped to the model's id by name; a label the
model's vocabulary lacks (impossible with the run's own spec) reads as 0,
"no label". When the main axis's normalisation changes the prefix's length
(NFC composing a combining mark, a byte prefix ending inside a character),
labels are aligned with the prefix from its end. `--fix AXIS=LABEL` holds a
predict axis at one label over every generated character; context axes
cannot be fixed (the text decides them). Past block_size the cache slides
the window block_size/4 positions at a time, `--no-cache` one at a time, so
only samples within the block are the same text both ways.

`expand` grows a run by the axes a new spec adds (model.network.transformer.expand): the
dataset DIR must be compiled from NEW.axes (same spec hash), on text with
the run's main vocabulary, and NEW.axes must feed every axis the run reads,
with the same vocabulary, mode and width, plus new ones. New embeddings and
heads start at zero, so at step 0 the expanded model predicts the main
stream exactly as the run did; training then continues into RUN2 (a new run
from step 0, fresh optimizer) with RUN's config and the key=value overrides
(not the network's shape; `axes=a,b` picks which new axes to add). Loss
weights follow NEW.axes. `--freeze` keeps the backbone's weights as they
are (a resumed RUN2 keeps them frozen); axis parameters train.

Exit codes: 0 done; 2 a user error (a bad option, prompt or label; a missing
or damaged run; a dataset or spec that does not fit the run).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Sequence

import attrs

from grid_dsl.cli import argtypes
from grid_dsl.cli.argtypes import IntermixedParser
from grid_dsl.language.diagnostics import UserError, did_you_mean

from model.cli.train import _device
from model.network.checkpoint import DataEntry, ModelAxis
from model.training.context import SampleGrid, decode, generation_context


def add_commands(commands) -> None:
    from model.network.config import add_overrides

    sample = commands.add_parser("sample", help="generate text (and its grid) with a trained run",
                                 description="Continue a prompt with a run's model; see model/cli/sample.py.")
    sample.add_argument("run_dir", metavar="RUN", help="a run directory (its ckpt.pt) or a checkpoint file")
    sample.add_argument("--prompt", metavar="P", help="the text to continue (default: a newline)")
    sample.add_argument("--chars", type=argtypes.positive, default=500, metavar="N", help="positions to generate (500)")
    sample.add_argument("--temperature", type=argtypes.temperature, default=1.0, metavar="T",
                        help="softmax temperature; 0 takes the likeliest (1.0)")
    sample.add_argument("--top-k", type=argtypes.positive, metavar="K", help="sample among the K likeliest only")
    sample.add_argument("--seed", type=argtypes.seed, default=0, metavar="S", help="random seed; same seed, same sample (0)")
    sample.add_argument("--show-grid", action="store_true", help="draw the sample with one row per axis")
    sample.add_argument("--fix", action="append", default=[], metavar="AXIS=LABEL",
                        help="hold a predict axis at LABEL over the generated text (repeatable)")
    sample.add_argument("--best", action="store_true", help="sample from RUN/best.pt instead of RUN/ckpt.pt")
    sample.add_argument("--device", type=_device, default="auto", metavar="D",
                        help="auto, cpu, cuda, cuda:N or mps (auto)")
    sample.add_argument("--no-cache", action="store_true", help="recompute the whole window at every step")
    sample.set_defaults(run=run_sample)

    grow = commands.add_parser("expand", help="add a spec's new axes to a trained run and train on",
                               description="Expand a run by new axes and continue training; see model/cli/sample.py.")
    grow.__class__ = IntermixedParser
    grow.add_argument("run_dir", metavar="RUN", help="the run to expand (its ckpt.pt)")
    grow.add_argument("--spec", required=True, metavar="NEW.axes", help="the run's spec plus new axes")
    grow.add_argument("--data", required=True, metavar="DIR", help="a dataset compiled from NEW.axes")
    grow.add_argument("--out", required=True, metavar="RUN2", help="the new run directory")
    grow.add_argument("--freeze", action="store_true", help="train only the axis parameters")
    grow.add_argument("--steps", type=argtypes.positive, metavar="N", help="training steps (the same as max_iters=N)")
    add_overrides(grow, "config overrides, e.g. n_layer=2")
    grow.set_defaults(run=run_expand)


# ------------------------------------------------------------------- sample


def run_sample(args) -> int:
    from grid_dsl.data.render import render_text

    from model.network import checkpoint
    from model.network.config import resolve_device
    from model.training.evaluate import LEAKY_LABEL
    from model.network.generate import generate

    state = checkpoint.load(args.run_dir, best=args.best)
    file = checkpoint.resolve(args.run_dir, args.best)
    data = state.data
    axes = {a.name: a for a in data.axes}
    prompt = encode_prompt("\n" if args.prompt is None else args.prompt, data, file)
    fixed = fixed_labels(args.fix, data.axes, file)
    if args.show_grid and data.unit != "chars":
        raise UserError(f"--show-grid draws one column per character, and {file} models bytes; leave it out")
    computed = [a.name for a in data.axes if a.mode != "predict"]
    context_fn = generation_context(data, state.grid(), file)  # the hierarchy's boundary axis too
    leaky = [name for name in computed if checkpoint.axis_leaky(axes[name])]
    if leaky:  # as in training (model.network.checkpoint.axis_leaky)
        print(f"{file}: {LEAKY_LABEL} (leaky axes: {', '.join(leaky)}; "
              "their labels here are computed from the generated text)", file=sys.stderr)

    net = state.network().to(resolve_device(args.device))
    out = generate(net, prompt, args.chars, fixed=fixed, context_fn=context_fn, temperature=args.temperature,
                   top_k=args.top_k, seed=args.seed, use_cache=not args.no_cache)
    text = decode(out.main[0].tolist(), data)
    if not args.show_grid:
        print(text)
        return 0
    streams = {name: labels[0].cpu().numpy() for name, labels in out.axes.items()}
    grid = SampleGrid(text, streams, {name: a.vocab for name, a in axes.items()})
    print(render_text(grid, width=shutil.get_terminal_size((100, 24)).columns))
    return 0


def encode_prompt(prompt: str, data: DataEntry, file) -> list[int]:
    """Main ids of the prompt; UserError naming characters the model never saw."""
    if not prompt:
        raise UserError("--prompt is empty; give at least one character (or leave --prompt out for a newline)")
    if data.unit == "bytes":
        return list(prompt.encode("utf-8", "surrogatepass"))
    index = {char: i for i, char in enumerate(data.main_vocab)}
    unknown = sorted({char for char in prompt if char not in index})
    if unknown:
        what = "--prompt" if prompt != "\n" else "the default prompt (a newline)"
        raise UserError(f"{what} has characters the model of {file} never saw: {', '.join(map(repr, unknown))} "
                        f"(its vocabulary has {len(index)} characters); leave them out")
    return [index[char] for char in prompt]


def fixed_labels(items: list[str], axes: Sequence[ModelAxis], file) -> dict:
    """--fix AXIS=LABEL options -> {axis: label id} (generate's `fixed`)."""
    predict = [a.name for a in axes if a.mode == "predict"]
    choices = f"the axes you can fix: {', '.join(predict)}" if predict else f"{file} predicts no axis"
    by_name, fixed = {a.name: a for a in axes}, {}
    for item in items:
        name, sep, label = (part.strip() for part in item.partition("="))
        if not sep or not name:
            example = f", e.g. --fix {predict[0]}={by_name[predict[0]].vocab[-1]}" if predict else ""
            raise UserError(f"--fix {item!r}: expected AXIS=LABEL{example}")
        axis = by_name.get(name)
        if axis is None:
            hint = did_you_mean(name, predict)
            raise UserError(f"--fix {item!r}: the model of {file} reads no axis {name!r}; "
                            + (f"{hint} " if hint else "") + f"({choices})")
        if axis.mode != "predict":
            raise UserError(f"--fix {item!r}: {name!r} is a {axis.mode} axis, whose labels the spec computes "
                            f"from the text as it is written, so they cannot be fixed ({choices})")
        if name in fixed:
            raise UserError(f"--fix {item!r}: axis {name!r} is fixed twice; give one label per axis")
        if label not in axis.vocab:
            hint = did_you_mean(label, axis.vocab)
            raise UserError(f"--fix {item!r}: axis {name!r} has no label {label!r}; " + (f"{hint} " if hint else "")
                            + f"(its labels: {', '.join(axis.vocab)})")
        fixed[name] = axis.vocab.index(label)
    return fixed


# ------------------------------------------------------------------- expand


def run_expand(args) -> int:
    from grid_dsl.data.inputs import load_plan, print_warnings
    from grid_dsl.data.dataset import Dataset

    from model.network import checkpoint
    from model.cli.train import summary_lines
    from model.network.config import SHAPE_KEYS, TrainConfig, overrides_of
    from model.network.transformer import AxisSpec, GridConfig, expand
    from model.training.tensorboard import grid_sample_fn
    from model.network.model_axes import model_axes
    from model.training.train import train

    state = checkpoint.load(args.run_dir)
    file = checkpoint.resolve(args.run_dir)
    plan = load_plan(args.spec)
    print_warnings(plan)
    ds = Dataset.open(args.data)
    ds.check_spec(plan)
    checkpoint.check_new_run(Path(args.out))
    old = state.training()
    config = TrainConfig.load(None, overrides_of(args), base={**old.to_dict(), "axes": "fed"})
    changed = [f"{k} {getattr(old, k)!r} -> {getattr(config, k)!r}" for k in SHAPE_KEYS
               if getattr(old, k) != getattr(config, k)]
    if changed:
        raise UserError(f"expand keeps the network of {file} ({', '.join(changed)}); drop those overrides")
    check_expansion(state.data, ds, file, args.spec)
    have = [a.name for a in state.data.axes]
    new = [a for a in model_axes(ds, config.axes) if a.name not in have]
    if not new:
        raise UserError(f"{args.spec} feeds no axis that {file} does not read already ({', '.join(have) or 'none'}); "
                        "add an axis and a `feed` for it, then compile the dataset again")
    weights = {a.name: a.weight for a in ds.axes}  # loss weights follow the new spec
    old_axes = [attrs.evolve(a, weight=weights[a.name]) for a in GridConfig.from_dict(state.config).axes]
    net = state.network(dropout=config.dropout, axes=old_axes)
    grown = expand(net, [AxisSpec.of(a) for a in new], freeze=args.freeze)
    names = [a.name for a in grown.config.axes]
    config = config.replace(axes=",".join(names))
    sample_fn = None
    if config.sample_interval:
        sample_fn = grid_sample_fn(ds, [ds.manifest.axis(n) for n in names], seed=config.seed)
    metrics = train(ds, args.out, config, sample_fn=sample_fn, init_model=grown)
    print(f"expanded {file} ({', '.join(have) or 'no axes'}) by {', '.join(a.name for a in new)}"
          + (", backbone frozen" if args.freeze else ""))
    print("\n".join(summary_lines(metrics, args.out)))
    return 0


def check_expansion(data: DataEntry, ds, file, spec: str) -> None:
    """UserError unless dataset `ds` (compiled from `spec`) feeds every axis
    of the run the way the run reads it, and has the run's main vocabulary."""
    from model.network.checkpoint import vocab_difference

    if data.unit != ds.unit or list(data.main_vocab) != list(ds.main_vocab):
        raise UserError(f"the main vocabulary of dataset {ds.path} ({ds.unit}, {len(ds.main_vocab)} symbols) differs "
                        f"from {file}'s ({data.unit}, {len(data.main_vocab)} symbols"
                        f"{vocab_difference(data.main_vocab, ds.main_vocab)}); compile {spec} on the run's corpus")
    fed = {a.name: a for a in ds.axes if a.mode is not None}
    for axis in data.axes:
        name, entry = axis.name, fed.get(axis.name)
        if entry is None:
            raise UserError(f"{spec} does not feed axis {name!r}, which {file} reads; an expanded spec keeps every "
                            f"axis of the run (`feed {name} as {axis.mode}`) and adds new ones")
        if list(entry.vocab) != list(axis.vocab):
            raise UserError(f"axis {name!r} of {spec} has another vocabulary than in {file}"
                            f"{vocab_difference(axis.vocab, entry.vocab)}; keep the run's axes as they were "
                            "and add new ones beside them")
        if (entry.mode, entry.dim) != (axis.mode, axis.dim):
            raise UserError(f"axis {name!r} is fed as {entry.mode} (dim={entry.dim}) in {spec} but as "
                            f"{axis.mode} (dim={axis.dim}) in {file}; feed it as the run did")
