"""Scoring a model: unweighted bits, on fixed batches or on a whole split.

Loss weights are for training only; every number here is unweighted:

    bpc_main   = nll_main / ln 2            (mean nats per main position)
    bpc_joint  = (nll_main + sum of predict-axis nll) / ln 2
    bits[axis] = nll_axis / ln 2            (predict axes only)

`whole_split` covers a split with consecutive, non-overlapping windows, each
position scored once: window j starts at j*T and scores the main targets
j*T+1 .. j*T+T and the predict-axis targets one further on. The last window
is shorter (the model runs on T' < T positions). Because a predict axis's
target lies two steps ahead, the last main position of the split and the
first two axis positions are never targets: N-2 positions are scored per
stream, out of N.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import attrs
import numpy as np
import torch
from tqdm import tqdm

from grid_dsl.language.diagnostics import UserError

LN2 = math.log(2)
from grid_dsl.data.leak import LEAKY_LABEL  # noqa: F401  (where every report finds it)


@attrs.frozen
class Scores:
    """Mean nats per scored position, main and each predict axis."""

    nll_main: float
    nll_axes: dict  # predict axis name -> mean nats
    positions: int  # main positions scored

    @property
    def bpc_main(self) -> float:
        return self.nll_main / LN2

    @property
    def bpc_joint(self) -> float:
        return (self.nll_main + sum(self.nll_axes.values())) / LN2

    @property
    def bits(self) -> dict:
        return {"main": self.bpc_main} | {name: nll / LN2 for name, nll in self.nll_axes.items()}

    @property
    def losses(self) -> dict:
        return {"main": self.nll_main} | dict(self.nll_axes)

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.losses.values())

    def to_dict(self) -> dict:
        return {"bpc_main": self.bpc_main, "bpc_joint": self.bpc_joint, "bits": self.bits,
                "loss": self.losses, "positions": self.positions}


class Totals:
    """Sums of nats over scored positions, kept on the device (one vector:
    main, then each predict axis) so that scoring never waits for the GPU
    batch by batch, and so that processes can add theirs with one all-reduce."""

    def __init__(self, names: list[str], device):
        self.names = names
        self.sums = torch.zeros(1 + len(names), dtype=torch.float64, device=device)
        self.count = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, out) -> None:
        losses = torch.stack([out.nll_main, *out.nll_axes.values()]).double()
        self.sums += losses * out.scored
        self.count += out.scored

    def all_reduce(self) -> None:
        import torch.distributed as dist

        dist.all_reduce(self.sums)
        dist.all_reduce(self.count)

    def scores(self) -> Scores:
        means = (self.sums / self.count.clamp(min=1)).tolist()
        return Scores(means[0], dict(zip(self.names, means[1:])), int(self.count.item()))


def predict_names(model) -> list[str]:
    return [a.name for a in model.config.axes if a.mode == "predict"]


@torch.no_grad()
def score_batches(model, batches, columns=None, autocast=None, reduce: bool = False) -> Scores:
    """Scores over `batches` [(main, meta), ...] (e.g. `Batches.fixed`);
    `columns` picks the model's axes from meta; `reduce` adds the totals of
    every process (DDP: each scores its share of the batches)."""
    device = next(model.parameters()).device
    totals = Totals(predict_names(model), device)
    was_training = model.training
    model.eval()
    try:
        _score(model, batches, columns, autocast, totals)
    finally:
        model.train(was_training)
    if reduce:
        totals.all_reduce()
    return totals.scores()


def _score(model, batches, columns, autocast, totals: Totals) -> None:
    """Add the model's losses on (main, meta) windows to `totals`."""
    device = next(model.parameters()).device
    for main, meta in batches:
        main, meta = main.to(device), select(meta, columns).to(device)
        with autocast or nullcontext():
            totals.add(model(main, meta))


def select(meta: torch.Tensor, columns) -> torch.Tensor:
    """The model's axes, in model order, from a dataset's meta [.., K]."""
    if columns is None or list(columns) == list(range(meta.size(-1))):
        return meta
    return meta[..., list(columns)]


def window_starts(n: int, block_size: int) -> tuple[np.ndarray, int]:
    """Starts of the full windows tiling a stream of n positions, and the
    length T' of the last, shorter window (0 when there is none), which
    starts where the full ones end."""
    full = max(n - 2, 0) // block_size
    return np.arange(full, dtype=np.int64) * block_size, max(n - 2, 0) - full * block_size


@torch.no_grad()
def whole_split(model, ds, split: str, columns, batch_size: int = 32, autocast=None, progress: bool = False) -> Scores:
    """Scores over every position of `split` of dataset `ds` (see the module
    docstring), `batch_size` windows at a time."""
    from model.training.batches import Batches

    block = model.config.block_size
    device = next(model.parameters()).device
    totals = Totals(predict_names(model), device)
    n = len(ds.main(split))
    if n < 3:
        raise UserError(f"the {split} split of {ds.path} has {n} positions; scoring needs at least 3")
    starts, tail = window_starts(n, block)
    was_training = model.training
    model.eval()
    try:
        groups = []
        if len(starts):
            full = Batches(ds, split, block, batch_size)
            groups += [(full, starts[i : i + batch_size]) for i in range(0, len(starts), batch_size)]
        if tail:
            groups.append((Batches(ds, split, tail, 1), np.array([len(starts) * block])))
        batches = (source.at(chunk) for source, chunk in tqdm(groups, desc=f"eval {split}", unit="batch",
                                                               disable=None if progress else True, leave=False))
        _score(model, batches, columns, autocast, totals)
    finally:
        model.train(was_training)
    return totals.scores()
