"""Compute accounting: estimated training FLOPs per character of a grid transformer.

`flops_per_char(config, boundary_rate)` counts the matrix products of one
training step per main position (character or byte) of a window of T =
block_size positions: a multiply-add is 2 FLOPs, the backward pass is twice
the forward (gradients of the inputs and of the weights), so training is
3 x forward. Embedding look-ups, layer norms, softmax, GELU and the
optimizer are not counted (a few percent at these widths). With C = n_embd,
L = n_layer, V = the main vocabulary:

    local block (each of L)   24 C^2                      q, k, v (6 C^2), output (2 C^2), MLP (16 C^2)
                              + 4 C k                     attention scores and values over k keys
    output layer              2 C V  (+ 2 C V_p: the predict heads over their vocabularies V_p)
    concat fusion             2 (C + sum of axis widths) C
    cross fusion, per axis    per block 16 C^2 + 8 C k_T (the meta stream's attention and the main
                              stream's cross-attention to it); every block but the last also
                              24 C^2 + 4 C k_T (cross-attention from the main stream, MLP)

where k = the mean number of keys a query sees, (1/T) sum_t min(t + 1, W)
with W = local_window (0: T), and k_T that mean with W = T ((T + 1) / 2):
causal attention computes only what it keeps. A hierarchical model
(model/network/hierarchy.py) adds, with D = global_embd, L_g =
global_layers, r = `boundary_rate` (the share of positions the global
blocks hold, after the cap) and n = r T boundaries a window:

    per boundary              4 C D (in and out projections) + L_g 24 D^2
    per window                L_g 4 D n (n + 1) / 2  (causal attention among the boundaries)

so per character r (4 C D + 24 L_g D^2) + 2 L_g D n (n + 1) / T. The
padding slots that fill the global blocks up to the cap in a window with
fewer boundaries are computed but not counted: the estimate is the work the
model needs, which an implementation that packs boundaries would do.

`boundary_rates(config, ds)` measures r, and the share of boundaries
beyond the cap, on windows of a dataset's training split.
"""

from __future__ import annotations

import numpy as np
import torch

from model.network.hierarchy import boundary_ids, capacity, kept_boundaries, period


def mean_keys(T: int, window: int = 0) -> float:
    """Keys a causal query sees on average over a window of T positions,
    each seeing at most `window` (0: all before it)."""
    W = window or T
    t = np.arange(1, T + 1)
    return float(np.minimum(t, W).mean())


def flops_per_char(config, boundary_rate: float = 0.0) -> float:
    """Estimated training FLOPs (forward + backward) per main position of a
    GridConfig, `boundary_rate` of the positions being global boundaries
    (ignored by a flat model). The module docstring gives the formula."""
    C, L, T = config.n_embd, config.n_layer, config.block_size
    k, k_full = mean_keys(T, config.local_window), mean_keys(T)
    forward = L * (24 * C * C + 4 * C * k) + 2 * C * config.vocab_size
    forward += 2 * C * sum(a.vocab_size for a in config.axes if a.mode == "predict")
    K = len(config.axes)
    if K and config.fusion == "concat":
        forward += 2 * (C + sum(a.dim or C // 4 for a in config.axes)) * C
    elif K and config.fusion == "cross":
        forward += K * (L * (16 * C * C + 8 * C * k_full) + (L - 1) * (24 * C * C + 4 * C * k_full))
    if config.boundary:
        D, Lg = config.global_embd or C, config.global_layers
        n = boundary_rate * T
        forward += boundary_rate * (4 * C * D + 24 * Lg * D * D) + 2 * Lg * D * n * (n + 1) / T
    return 3.0 * forward


def boundary_rates(config, ds=None, windows: int = 256, seed: int = 0) -> tuple[float, float]:
    """(share of positions the global blocks hold, share of boundaries beyond
    the cap) of a hierarchical GridConfig, on `windows` random windows of
    block_size positions of `ds`'s training split (every:K needs no data);
    (0, 0) for a flat model."""
    if not config.boundary:
        return 0.0, 0.0
    T, cap = config.block_size, capacity(config)
    if period(config.boundary):
        K = period(config.boundary)
        flags = torch.as_tensor(np.arange(T) % K == K - 1)[None]
    else:
        stream = ds.axis("train", config.boundary_axis)
        width = min(T, len(stream))
        if width == 0:
            return 0.0, 0.0
        starts = np.random.default_rng(seed).integers(0, len(stream) - width + 1, size=windows)
        labels = np.asarray(stream[starts[:, None] + np.arange(width)], dtype=np.int64)
        flags = torch.isin(torch.from_numpy(labels), torch.tensor(boundary_ids(config.boundary_vocab)))
    kept = kept_boundaries(flags, torch.zeros(flags.size(0), dtype=torch.long), cap)
    found = int(flags.sum())
    return int(kept.sum()) / flags.numel(), (found - int(kept.sum())) / found if found else 0.0


def estimate(config, ds) -> tuple[float, float, float]:
    """What a run of GridConfig `config` on `ds` records: (FLOPs per
    character, boundary rate, share of boundaries beyond the cap). Training
    and `compare --flops` both ask here, so they agree."""
    rate, dropped = boundary_rates(config, ds)
    return flops_per_char(config, rate), rate, dropped
