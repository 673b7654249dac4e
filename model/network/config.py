"""Training configuration: defaults, a TOML file, `key=value` overrides.

The defaults are nanoGPT's small CPU configuration for a character model
(4 layers, 4 heads, 128 wide, block 64, batch 12, learning rate 1e-3 with
100 warm-up steps and cosine decay to a tenth of it, no dropout, weight decay
0.1, beta2 0.99, gradient clipping at 1.0, 2000 steps).

A config file is a flat TOML table of the same keys:

    # tiny.toml
    n_layer = 2
    max_iters = 500
    learning_rate = 3e-3

and the command line overrides any key with `key=value`, parsed by the key's
type (`compile=false`, `dropout=0.1`). An unknown key, a value of the wrong
type or one out of range is a UserError naming where it came from.

    >>> cfg = TrainConfig.load(None, ["n_layer=2", "dropout=0.1"])
    >>> cfg.n_layer, cfg.dropout
    (2, 0.1)
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterable

import attrs

from grid_dsl.language.diagnostics import UserError, did_you_mean

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as the tomli package
    import tomli as tomllib

FUSIONS = ("sum", "concat", "cross")
DTYPES = ("auto", "float32", "bfloat16")
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"

# The one list of the keys that fix the shape of the network (expand keeps them) ...
SHAPE_KEYS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "fusion",
              "boundary", "global_layers", "global_embd", "global_heads", "local_window", "global_block")
# ... and with the axes it reads, what a resumed run must keep.
MODEL_KEYS = SHAPE_KEYS + ("axes",)


@attrs.frozen
class TrainConfig:
    # the network
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # width of the residual stream
    block_size: int = 64  # characters (or bytes) of context
    dropout: float = 0.0  # in training only
    bias: bool = False  # nanoGPT's default: no biases in linear layers and norms
    fusion: str = "sum"  # how axis embeddings join the main stream: sum | concat | cross
    axes: str = "fed"  # the axes the model reads: fed (every axis the spec feeds) | none (the baseline) | a,b,...
    # the hierarchy
    boundary: str = ""  # where the global blocks read: a causal axis of the dataset | every:K | "" (flat)
    global_layers: int = 2  # global blocks, between the two halves of the n_layer local blocks
    global_embd: int = 0  # width of the global blocks; 0 = n_embd
    global_heads: int = 0  # attention heads of a global block; 0 = n_head
    local_window: int = 0  # characters a local block's attention sees (its own included); 0 = block_size
    global_block: int = 0  # boundaries per window the global blocks hold (the first; the cap); 0 = all of every:K's, else block_size // 4
    # optimisation
    batch_size: int = 12  # windows per micro-batch, per process
    grad_accum: int = 1  # micro-batches per optimizer step (global batch = batch_size * grad_accum * processes)
    max_iters: int = 2000  # optimizer steps (the step budget)
    learning_rate: float = 1e-3  # peak, after the warm-up
    min_lr_fraction: float = 0.1  # cosine decay ends at learning_rate * this
    warmup_iters: int = 100  # steps of linear warm-up
    lr_decay_iters: int = 0  # steps of the cosine decay; 0 = max_iters
    weight_decay: float = 0.1  # on 2-D weights only (matrices and embeddings)
    beta1: float = 0.9  # AdamW
    beta2: float = 0.99  # AdamW
    grad_clip: float = 1.0  # 0 = no clipping
    # evaluation, logging, samples
    eval_interval: int = 250  # steps between evaluations (and checkpoints)
    eval_iters: int = 20  # fixed batches per split in each evaluation
    eval_seed: int = 0  # seed of the fixed evaluation batches, shared by runs being compared
    log_interval: int = 10  # steps between progress/TensorBoard updates
    sample_interval: int = 500  # steps between samples in TensorBoard's TEXT tab; 0 = none
    respect_documents: bool = False  # keep training windows inside one document
    prefix_check: int = 2000  # validation positions whose context labels are checked against their prefix (0 = none)
    # system
    seed: int = 1337  # initial weights, batches and dropout
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N | mps
    dtype: str = "auto"  # auto | float32 | bfloat16 (autocast on CUDA only; CPU trains in float32)
    compile: bool = True  # torch.compile on CUDA; ignored on CPU

    # ------------------------------------------------------------- loading

    @classmethod
    def keys_help(cls) -> str:
        """Every key with its default and the comment beside it in this
        class (the one place they are written), grouped as here: what
        `multigrid train --help` lists."""
        source = Path(__file__).read_text(encoding="utf-8")  # not inspect: the CLI builds this at start-up
        body = source[source.index(f"class {cls.__name__}:"):source.index("    # ------------------------------------------------------------- loading")]
        lines = []
        for line in body.splitlines():
            group = re.fullmatch(r"    # (\w[\w ,]*)", line)
            field = re.fullmatch(r"    (\w+): [\w| ]+ = ([^#]+?)\s*(?:#\s*(.*))?", line)
            if group:
                lines.append(f"{group.group(1)}:")
            elif field:
                name, default, meaning = field.groups()
                lines.append(f"  {name}={default.strip()}".ljust(26) + (f" {meaning}" if meaning else ""))
        return "\n".join(lines)


    @classmethod
    def load(cls, file: str | Path | None = None, overrides: Iterable[str] = (), base: dict | None = None) -> "TrainConfig":
        """`base` (e.g. a checkpoint's config), then the TOML `file`, then
        the `key=value` overrides, each checked."""
        values = dict(base or {})
        if file is not None:
            values.update(read_toml(file))
        for item in overrides:
            key, value = parse_override(item)
            values[key] = value
        return cls.from_dict(values, where="config")

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> "TrainConfig":
        """A config from plain values (a TOML table, a checkpoint's dict),
        type-checked: ints where ints are expected (no bools), floats accept
        ints."""
        known = {f.name: f for f in attrs.fields(cls)}
        checked = {}
        for key, value in values.items():
            if key not in known:
                raise UserError(unknown_key(key, where))
            checked[key] = check_type(key, value, known[key].type, where)
        config = cls(**checked)
        config.validate()
        return config

    def to_dict(self) -> dict:
        return attrs.asdict(self)

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def validate(self) -> None:
        at_least = {"n_layer": 1, "n_head": 1, "n_embd": 1, "block_size": 1, "batch_size": 1, "grad_accum": 1,
                    "max_iters": 0, "warmup_iters": 0, "lr_decay_iters": 0, "eval_interval": 1, "eval_iters": 1,
                    "log_interval": 1, "sample_interval": 0, "seed": 0, "eval_seed": 0, "prefix_check": 0}
        for key, low in at_least.items():
            if getattr(self, key) < low:
                raise UserError(f"config: {key} must be at least {low}, got {getattr(self, key)}")
        for key in ("learning_rate", "min_lr_fraction", "weight_decay", "grad_clip", "dropout", "beta1", "beta2"):
            value = getattr(self, key)
            if not math.isfinite(value) or value < 0:
                raise UserError(f"config: {key} must be a finite number >= 0, got {value}")
        for key in ("dropout", "beta1", "beta2", "min_lr_fraction"):
            if getattr(self, key) > 1:
                raise UserError(f"config: {key} must be at most 1, got {getattr(self, key)}")
        if self.n_embd % self.n_head:
            raise UserError(f"config: n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        for key in ("global_layers", "global_embd", "global_heads", "local_window", "global_block"):
            if getattr(self, key) < 0:
                raise UserError(f"config: {key} must be at least 0, got {getattr(self, key)}")
        check_boundary(self.boundary, self.global_layers, self.global_embd or self.n_embd,
                       self.global_heads or self.n_head)
        if self.fusion not in FUSIONS:
            raise UserError(f"config: fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if self.dtype not in DTYPES:
            raise UserError(f"config: dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not re.fullmatch(DEVICE_PATTERN, self.device):
            raise UserError(f"config: device must be auto, cpu, mps, cuda or cuda:N, got {self.device!r}")

    def memory_bytes(self, vocab_size: int, axis_labels: int = 0) -> int:
        """An estimate of a training process's memory at this configuration:
        float32 weights, gradients and Adam's two moments, and the activations
        a step keeps for the backward pass (per layer, about 16 numbers per
        position and width, and the attention matrices)."""
        c, positions = self.n_embd, self.batch_size * self.block_size
        params = 12 * self.n_layer * c * c + (vocab_size + self.block_size + axis_labels) * c
        activations = self.n_layer * (16 * positions * c + 2 * self.batch_size * self.n_head * self.block_size ** 2)
        return 4 * (4 * params + activations)

    def check_memory(self, vocab_size: int, axis_labels: int, available: int | None) -> None:
        """UserError, with the estimate, for a configuration whose tensors
        cannot fit in `available` bytes (refused before any is allocated)."""
        need = self.memory_bytes(vocab_size, axis_labels)
        if available and need > available:
            raise UserError(f"config: n_layer={self.n_layer} n_embd={self.n_embd} block_size={self.block_size} "
                            f"batch_size={self.batch_size} needs about {need / 1e9:,.1f} GB to train, and this "
                            f"machine has {available / 1e9:,.1f} GB; make the model, block or batch smaller "
                            "(or accumulate: grad_accum=N with a batch N times smaller)")

    # ------------------------------------------------------------- derived

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters or self.max_iters

    def lr_at(self, step: int) -> float:
        """nanoGPT's schedule: linear warm-up, cosine decay, then the floor."""
        min_lr = self.learning_rate * self.min_lr_fraction
        if step < self.warmup_iters:
            return self.learning_rate * (step + 1) / (self.warmup_iters + 1)
        if step >= self.decay_iters:
            return min_lr
        ratio = (step - self.warmup_iters) / max(1, self.decay_iters - self.warmup_iters)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (self.learning_rate - min_lr)


def check_boundary(boundary: str, global_layers: int, global_embd: int, global_heads: int) -> None:
    """UserError unless `boundary` is "", an axis name or every:K (K >= 1),
    and the global blocks it asks for can be built."""
    if not boundary:
        return
    period = boundary.removeprefix("every:")
    if period != boundary and not (period.isdigit() and int(period) >= 1):
        raise UserError(f"config: boundary={boundary!r}: periodic boundaries are written every:K with K >= 1, "
                        "e.g. boundary=every:4")
    if period == boundary and not re.fullmatch(r"[A-Za-z_][\w-]*", boundary):
        raise UserError(f"config: boundary={boundary!r} is neither an axis name nor every:K")
    if global_layers < 1:
        raise UserError(f"config: boundary={boundary} needs global_layers >= 1 (the global blocks), got {global_layers}")
    if global_embd % global_heads:
        raise UserError(f"config: global_embd ({global_embd}) must be a multiple of global_heads ({global_heads})")


# ------------------------------------------------------------------ parsing


def unknown_key(key: str, where: str) -> str:
    names = [f.name for f in attrs.fields(TrainConfig)]
    hint = did_you_mean(key, names) or f"the keys are: {', '.join(names)}"
    return f"{where}: unknown key {key!r}; {hint}"


def read_toml(file: str | Path) -> dict:
    from grid_dsl.data.inputs import read_bytes

    path = Path(file)
    data = read_bytes(path, "config file")  # missing or unreadable: the same messages as every input
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"config file {path} is not valid TOML: {err}") from None
    for key, value in table.items():
        if isinstance(value, dict):
            raise UserError(f"{path}: [{key}] is a table; a config file is a flat list of `key = value` lines")
    fields = attrs.fields_dict(TrainConfig)
    for key, value in table.items():
        if key not in fields:
            raise UserError(unknown_key(key, str(path)))
        check_type(key, value, fields[key].type, str(path))
    return table


def parse_override(item: str) -> tuple[str, object]:
    """`key=value` -> (key, value typed by the key's field)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    where = f"override {item!r}"
    if not sep or not key:
        raise UserError(f"{where}: expected key=value, e.g. n_layer=2")
    fields = attrs.fields_dict(TrainConfig)
    if key not in fields:
        raise UserError(unknown_key(key, where))
    return key, parse_value(key, text.strip(), fields[key].type, where)


def parse_value(key: str, text: str, kind: str, where: str):
    try:
        if kind == "bool":
            lowered = text.lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise UserError(f"{where}: {key} expects {describe(kind)}, got {text!r}") from None
    return text


def device_memory(device) -> int | None:
    """Bytes the device can hold: a GPU's memory, else the machine's RAM (None if unknown)."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def add_overrides(cmd, help: str) -> None:
    """The `key=value ...` arguments of a command that trains, and the keys
    they take (read by the command line to answer `--max_iters=10` with the
    key=value hint, without importing this layer)."""
    cmd.add_argument("overrides", nargs="*", metavar="key=value", help=help)
    cmd.config_keys = frozenset(field.name for field in attrs.fields(TrainConfig))


def overrides_of(args) -> list[str]:
    """The key=value overrides of a command, its `--steps N` (the one name
    every command gives its step budget) included as max_iters=N."""
    overrides = list(args.overrides)
    steps = getattr(args, "steps", None)
    if steps is not None:
        if any(item.split("=", 1)[0].strip() == "max_iters" for item in overrides):
            raise UserError(f"--steps {steps} and max_iters=... both set the step budget; give one of them")
        overrides.append(f"max_iters={steps}")
    return overrides


def check_type(key: str, value, kind: str, where: str):
    """`value` when it has the type of `key` (floats accept ints)."""
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[kind]
    if not ok:
        raise UserError(f"{where}: {key} expects {describe(kind)}, got {value!r}")
    return float(value) if kind == "float" else value


def describe(kind: str) -> str:
    return {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string"}[kind]


def resolve_device(requested: str, local_rank: int | None = None):
    """auto, cpu, cuda, cuda:N or mps as a torch.device, checked against
    what this machine has; under torchrun, cuda is this process's GPU."""
    import torch  # only when training or scoring: loading a config stays light

    name = requested
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device={requested}: this torch ({torch.__version__}) sees no CUDA GPU; use device=cpu")
        if local_rank is not None:  # torchrun: one GPU per process
            name = f"cuda:{local_rank}"
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("device=mps: MPS is not available here; use device=cpu")
    return torch.device(name)
