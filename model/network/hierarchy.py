"""The hierarchy of a grid transformer: SpaceByte's global blocks at boundary positions.

A hierarchical model (GridConfig.boundary not "") runs its n_layer blocks as
*local* blocks over every character, their attention limited to the last
`local_window` positions, and between their two halves (n_layer // 2
before, the rest after) the *global* blocks:

    x                     [B, T, C]   the residual stream after the first local half
    boundaries            the positions t whose boundary label is a boundary (below)
    kept                  the first `global_block` boundaries of the window (the cap)
    g = proj_in(x[kept]) + wpe[rank]   [B, G, D]: gathered, at the global width,
                          with learned positions by rank among the window's boundaries
    g = global blocks(g)  causal among the boundaries; their own width, depth and heads
    x[kept] += proj_out(ln_f(g))       added back where it came from; later
                          positions see it through the local attention

(Yu et al., "SpaceByte", 2024; MEGABYTE's fixed patches are `every:K`.)
Which positions are boundaries, from characters <= t only:

    an axis       the boundary axis's label at t is a boundary label: its B- labels
                  when its vocabulary has any (a grouping or lexicon with
                  encoding=bio: the span starts), else every label but `_`.
                  The axis must be causal (model_axes refuses one that is not).
    every:K       t % K == K - 1, t counted from the window's first position:
                  the last character of each K-character patch.

The cap. The global blocks hold at most G = global_block boundaries per
window (0: every boundary of every:K, a quarter of block_size for an axis:
`capacity`). They always run on G slots, so G sets their cost; slots
beyond a window's boundaries are padding, computed and discarded (every
parameter takes part in every step, as DDP needs, a window without
boundaries included). A window with more than G boundaries keeps the first
G (deciding needs only the boundaries so far, so the cap is causal); the
later ones get no global update, though their characters are still
modelled and scored by the local blocks. Nothing is dropped silently:
training reports the share of boundaries beyond the cap
(`metrics.json`: "global_dropped", measured on the training split).

Decoding with a KV cache: the global blocks keep their own cache
(`GlobalCache`: keys and values by rank, per row) and take a step only at a
new boundary; rows of a batch have their own boundaries and counts. Cached
decoding gives the logits of recomputing the window.

Hierarchy parameters are initialised from their own torch.Generator, as
axis parameters are (fusion.py), so a hierarchical model's local blocks
start with the flat model's weights.
"""

from __future__ import annotations

import math

import attrs
import torch
import torch.nn as nn
import torch.nn.functional as F

from model.network.fusion import dropout_layer


def period(boundary: str) -> int:
    """K of `every:K`; 0 for an axis boundary (or none)."""
    return int(boundary.removeprefix("every:")) if boundary.startswith("every:") else 0


def boundary_ids(vocab) -> list[int]:
    """The label ids of a boundary axis that mark a boundary: its B- labels
    (span starts) when it has any, else every label but id 0 (`_`)."""
    starts = [i for i, label in enumerate(vocab) if i and str(label).startswith("B-")]
    return starts or list(range(1, len(vocab)))


def capacity(config) -> int:
    """G, the most boundaries of a window the global blocks hold: global_block,
    or for 0 all of every:K's (block_size / K, rounded up) and a quarter of
    the window for an axis's; never more than block_size."""
    T, K = config.block_size, period(config.boundary)
    automatic = -(-T // K) if K else max(1, T // 4)
    return min(config.global_block or automatic, T)


def check_hierarchy(config) -> None:
    """ValueError unless a GridConfig's hierarchy keys can be built."""
    if not config.boundary:
        return
    if config.boundary.startswith("every:") and period(config.boundary) < 1:
        raise ValueError(f"boundary {config.boundary!r}: every:K needs K >= 1")
    if not config.boundary.startswith("every:") and len(config.boundary_vocab) < 2:
        raise ValueError(f"boundary axis {config.boundary!r} needs its vocabulary (boundary_vocab), got "
                         f"{config.boundary_vocab!r}")
    width, heads = config.global_embd or config.n_embd, config.global_heads or config.n_head
    if config.global_layers < 1 or width % heads or min(config.local_window, config.global_block) < 0:
        raise ValueError(f"hierarchy: global_layers={config.global_layers} (>= 1), global_embd={width} "
                         f"(a multiple of global_heads={heads}), local_window and global_block (>= 0)")


def kept_boundaries(flags, before, cap: int):
    """Which boundaries of `flags` [B, T] (bool) the global blocks hold: the
    first `cap` of the window, `before` [B] having come before these positions."""
    rank = before[:, None] + flags.long().cumsum(1) - 1  # among the window's boundaries
    return flags & (rank < cap)


class GlobalCache:
    """The global blocks' decoding state: per layer, keys and values by rank
    [B, H, cap + 1, d] (slot `cap` takes the writes of padding slots), and
    how many boundaries each row has seen, [B]."""

    def __init__(self, batch: int, cap: int, device):
        self.cap, self.kv = cap, {}
        self.seen = torch.zeros(batch, dtype=torch.long, device=device)

    def write(self, layer: int, k, v, rank, valid):
        """Store the keys and values [B, H, n, d] of ranks [B, n] (valid ones;
        the others go to the spare slot) and return the whole buffers."""
        if layer not in self.kv:  # zeros, not garbage: padding queries read them (and are discarded)
            self.kv[layer] = tuple(z.new_zeros(*z.shape[:2], self.cap + 1, z.size(-1)) for z in (k, v))
        index = torch.where(valid, rank, self.cap)[:, None, :, None].expand_as(k)
        for buf, new in zip(self.kv[layer], (k, v)):
            buf.scatter_(2, index, new)
        return self.kv[layer]


class GlobalAttention(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.c_attn = nn.Linear(width, 3 * width, bias=bias)
        self.c_proj = nn.Linear(width, width, bias=bias)
        self.resid_dropout = dropout_layer(dropout)

    def forward(self, g, rank, valid, cache: GlobalCache | None, layer: int):
        B, n, D = g.shape
        q, k, v = (z.view(B, n, self.heads, D // self.heads).transpose(1, 2) for z in self.c_attn(g).split(D, dim=2))
        p = self.dropout if self.training else 0.0
        if cache is None:  # the window's boundaries in order, padding after them: plain causal attention
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # rank r sees ranks <= r, cached or new
            k, v = cache.write(layer, k, v, rank, valid)
            slots = torch.arange(cache.cap + 1, device=g.device)
            mask = (slots <= rank[..., None]) & (slots < cache.cap)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None], dropout_p=p)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, n, D)))


class GlobalBlock(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool, dropout: float, mlp):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, bias=bias)
        self.attn = GlobalAttention(width, heads, bias, dropout)
        self.ln_2 = nn.LayerNorm(width, bias=bias)
        self.mlp = mlp

    def forward(self, g, rank, valid, cache, layer):
        g = g + self.attn(self.ln_1(g), rank, valid, cache, layer)
        return g + self.mlp(self.ln_2(g))


class Hierarchy(nn.Module):
    """The global blocks and what joins them to the local ones (module docstring).
    `mlp` is the transformer's MLP class, built at the global width."""

    def __init__(self, config, mlp):
        super().__init__()
        c = config
        width, heads = c.global_embd or c.n_embd, c.global_heads or c.n_head
        self.at, self.every = c.n_layer // 2, period(c.boundary)
        self.cap = capacity(c)
        self.register_buffer("boundary_ids", torch.tensor(boundary_ids(c.boundary_vocab) if not self.every else [],
                                                          dtype=torch.long), persistent=False)
        wide = attrs.evolve(c, n_embd=width, n_head=heads, boundary="")  # what the MLP class reads: its width
        with torch.random.fork_rng(devices=[]):  # built without drawing from the global RNG ...
            self.proj_in = nn.Linear(c.n_embd, width, bias=c.bias)
            self.wpe = nn.Embedding(self.cap, width)
            self.h = nn.ModuleList(GlobalBlock(width, heads, c.bias, c.dropout, mlp(wide))
                                   for _ in range(c.global_layers))
            self.ln_f = nn.LayerNorm(width, bias=c.bias)
            self.proj_out = nn.Linear(width, c.n_embd, bias=c.bias)
        generator = torch.Generator().manual_seed((torch.initial_seed() + 2) % 2**63)
        self._init(generator, c.n_layer + c.global_layers)  # ... and initialised from its own

    def _init(self, generator, depth: int) -> None:
        """GPT's scheme: N(0, 0.02), residual projections N(0, 0.02/sqrt(2 depth)),
        zero biases, unit layer-norm gains."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if p.dim() < 2:
                    p.fill_(1.0 if ".ln_" in f".{name}" and name.endswith("weight") else 0.0)
                else:
                    residual = name.endswith(("c_proj.weight", "proj_out.weight"))
                    std = 0.02 / math.sqrt(2 * depth) if residual else 0.02
                    p.copy_(torch.randn(p.shape, generator=generator) * std)

    def flags(self, labels, start: int, B: int, T: int, device):
        """Which positions start..start+T-1 of the window are boundaries, [B, T] bool."""
        if self.every:
            t = torch.arange(start, start + T, device=device)
            return (t % self.every == self.every - 1).expand(B, T)
        if labels is None:
            raise ValueError("a model with a boundary axis needs its labels: the last column of axis_in")
        return torch.isin(labels, self.boundary_ids)

    def forward(self, x, labels, cache=None):
        B, T, C = x.shape
        state = None
        if cache is not None:  # decoding: the global blocks' own cache travels in the model's
            cache.boundaries = state = cache.boundaries or GlobalCache(B, self.cap, x.device)
        flags = self.flags(labels, cache.pos if cache is not None else 0, B, T, x.device)
        before = state.seen if state is not None else torch.zeros(B, dtype=torch.long, device=x.device)
        kept = kept_boundaries(flags, before, self.cap)
        n = min(self.cap, T)
        # the kept positions first, in order (a stable sort of "not kept"), then padding
        where = torch.sort((~kept).to(torch.uint8), dim=1, stable=True).indices[:, :n]
        valid = torch.arange(n, device=x.device) < kept.sum(1, keepdim=True)
        rank = before[:, None] + torch.arange(n, device=x.device)
        g = self.proj_in(x.gather(1, where[..., None].expand(B, n, C))) + self.wpe(rank.clamp(max=self.cap - 1))
        for i, block in enumerate(self.h):
            g = block(g, rank, valid, state, i)
        out = torch.where(valid[..., None], self.proj_out(self.ln_f(g)), 0.0)
        if state is not None:
            state.seen = before + flags.sum(1)
        return x + torch.zeros_like(x).scatter(1, where[..., None].expand(B, n, C), out.to(x.dtype))
