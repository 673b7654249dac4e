"""Checkpoints: written atomically, read with `torch.load(weights_only=True)`.

A checkpoint is one dict of tensors and plain values (never a pickled
object, so loading one cannot run code):

    format      "multigrid-checkpoint/1"
    config      the model's GridConfig as plain values (axes as dicts)
    model       the model's state_dict (config + model are what
                `GridTransformer.checkpoint()` gives and `from_checkpoint` reads)
    optimizer   the AdamW state_dict (None in a checkpoint kept for inference)
    step        optimizer steps done
    tokens      main positions trained on
    train_seconds  wall time spent training, summed over resumes
    best        {"step", "bpc_joint"} of the best evaluation so far
    train_config  the TrainConfig as a dict
    data        what the model's ids mean: {"path", "spec_hash",
                "spec_sources" ({file: text} of the spec and its includes,
                root first: what `multigrid sample` compiles generated text
                with), "corpus", "unit", "main_vocab", "axes": [{"name",
                "kind", "vocab", "mode", "weight", "dim", "causal",
                "prefix_failed"}] (the model's axes, in model order), "leaky"}
    frozen      names of the parameters that do not train (`multigrid expand
                --freeze`); a resumed run keeps them frozen
    rng         {"torch", "cuda", "batches"}: generator states, so a resumed
                run draws the same batches and dropout masks as an unbroken one
    metrics     the last evaluation's numbers (what metrics.json holds)

A run directory holds `ckpt.pt` (the last state) and `best.pt` (the state of
the evaluation with the lowest validation bpc_joint). `check_data` says, as a
UserError, when a dataset's vocabularies do not mean what the checkpoint's
ids mean.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from grid_dsl.language.diagnostics import UserError
from grid_dsl.data.files import write_atomically, write_json_atomically

FORMAT = "multigrid-checkpoint/1"
LAST = "ckpt.pt"
BEST = "best.pt"
METRICS = "metrics.json"


def save(state: dict, path: str | Path) -> None:
    """Write `state` to `path` through a temporary file in the same folder
    and a rename: `path` holds the old checkpoint or the new one, whole."""
    import torch  # here: the CLI imports this module and must start quickly

    write_atomically(path, writer=lambda handle: torch.save(state, handle))


def resolve(path: str | Path, best: bool = False) -> Path:
    """A run directory's checkpoint (ckpt.pt, or best.pt), or a .pt file."""
    path = Path(path)
    if path.is_dir():
        return path / (BEST if best else LAST)
    return path


def load(path: str | Path, best: bool = False) -> dict:
    """The checkpoint at `path` (a run directory or a .pt file), on the CPU.
    UserError when it is missing, truncated, corrupted, holds pickled
    objects or is not a multigrid checkpoint."""
    import torch

    file = resolve(path, best)
    if not file.is_file():
        where = f"; {path} holds no {file.name}" if Path(path).is_dir() else ""
        raise UserError(f"checkpoint not found: {file}{where} (train one with `multigrid train --data DIR --out RUN`)")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        if "weights only" in str(err).lower():
            raise UserError(f"{file} holds pickled Python objects, not only tensors; multigrid never loads a "
                            "checkpoint with full pickle (it could run code)") from None
        raise UserError(f"{file} is corrupted ({first_line(err)}); use another checkpoint, e.g. best.pt") from None
    except Exception as err:  # noqa: BLE001 -- torch.load raises RuntimeError, EOFError, ValueError... on damaged files
        raise UserError(f"{file} is truncated or corrupted ({type(err).__name__}: {first_line(err)}); "
                        "use another checkpoint (best.pt or ckpt.pt of the run) or train again") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise UserError(f"{file} is not a {FORMAT} checkpoint (format: {found!r})")
    missing = [k for k in ("config", "model", "step", "train_config", "data") if k not in state]
    if missing:
        raise UserError(f"{file} is corrupted: it has no {', '.join(missing)}")
    return state


def first_line(err: BaseException) -> str:
    """The first sentence of an error's message (torch's go on at length)."""
    text = str(err).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".") if text else "no message"


# ------------------------------------------------------------- data checks


def reads_leaky(axes: list[dict], referee=None) -> bool:
    """Whether a model reading these manifest axes is leaky: one is oracle,
    non-causal and forced into context, or a context axis that failed the
    compile-time prefix check (compiled with --allow-leaks); or the referee
    (grid_dsl.data.referee) found a context label the prefix does not give. The
    dataset's other axes don't count: a baseline on an oracle spec's data
    reads none of them."""
    return any(map(axis_leaky, axes)) or (referee is not None and not referee.ok)


def axis_leaky(entry: dict) -> bool:
    """The one definition for one axis a model reads (a checkpoint or
    manifest entry): oracle, or context that is not causal (forced) or
    failed the compile-time prefix check."""
    return entry["mode"] == "oracle" or (entry["mode"] == "context" and (
        not entry["causal"] or bool(entry.get("prefix_failed")) or prefix_failed(entry)))


def prefix_failed(entry: dict) -> bool:
    """A manifest axis entry's compile-time prefix check found a mismatch."""
    return bool((entry.get("prefix_check") or {}).get("mismatches"))


def data_entry(ds, axis_names: list[str]) -> dict:
    """What the ids of a model trained on `ds` with `axis_names` mean."""
    by_name = {a["name"]: a for a in ds.axes}
    axes = [{**{k: by_name[n][k] for k in ("name", "kind", "vocab", "mode", "weight", "dim", "causal")},
             "prefix_failed": prefix_failed(by_name[n])} for n in axis_names]
    return {
        "path": str(ds.path),
        "spec_hash": ds.manifest["spec"]["hash"],
        "spec_sources": dict(ds.manifest["spec"]["sources"]),
        "corpus": dict(ds.manifest["corpus"]),
        "unit": ds.unit,
        "main_vocab": list(ds.main_vocab),
        "axes": axes,
        "leaky": reads_leaky(axes),
    }


def check_data(state: dict, ds, *, same_spec: bool, file: str | Path = "the checkpoint") -> list[int]:
    """UserError unless `ds` stores what the checkpoint's model reads, with
    the same vocabularies (and, with `same_spec`, was compiled from the same
    spec). Returns the column of each model axis in the dataset's meta."""
    data = state["data"]
    if same_spec and data["spec_hash"] != ds.manifest["spec"]["hash"]:
        raise UserError(f"dataset {ds.path} was compiled from another spec (hash {ds.manifest['spec']['hash'][:12]}) "
                        f"than {file} (hash {data['spec_hash'][:12]}, dataset {data['path']}); resume on a dataset "
                        "compiled from the run's spec, or train a new run")
    if data["unit"] != ds.unit or list(data["main_vocab"]) != list(ds.main_vocab):
        raise UserError(f"the main vocabulary of dataset {ds.path} ({ds.unit}, {len(ds.main_vocab)} symbols) differs from "
                        f"{file}'s ({data['unit']}, {len(data['main_vocab'])} symbols{vocab_difference(data['main_vocab'], ds.main_vocab)}): "
                        "its ids would mean other characters; use the dataset the run was trained on")
    names = [a["name"] for a in ds.axes]
    columns = []
    for axis in data["axes"]:
        if axis["name"] not in names:
            raise UserError(f"{file} reads axis {axis['name']!r}, which dataset {ds.path} does not store "
                            f"(it stores: {', '.join(names) or 'no axes'})")
        stored = ds.axes[names.index(axis["name"])]
        if list(stored["vocab"]) != list(axis["vocab"]):
            raise UserError(f"the vocabulary of axis {axis['name']!r} in dataset {ds.path} differs from {file}'s"
                            f"{vocab_difference(axis['vocab'], stored['vocab'])}; use the dataset the run was trained on")
        columns.append(names.index(axis["name"]))
    return columns


def vocab_difference(ours: list, theirs: list) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return f"; first difference at id {i}: {a!r} vs {b!r}"
    if len(ours) != len(theirs):
        return f"; {len(ours)} vs {len(theirs)} entries"
    return ""


# ---------------------------------------------------------- run directory


def check_new_run(out: Path) -> None:
    """UserError when `out` is a file or already holds a run's files."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a directory for the run")
    taken = [p.name for p in (out / LAST, out / BEST, out / METRICS) if p.exists()]
    taken += [p.name for p in out.glob("events.out.tfevents.*")] if out.is_dir() else []
    if taken:
        raise UserError(f"{out} already holds a run ({', '.join(sorted(taken)[:3])}); continue it with --resume, "
                        "or choose another --out")


write_json = write_json_atomically  # metrics.json and the experiments' plans, like the checkpoints
