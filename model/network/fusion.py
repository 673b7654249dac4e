"""How the meta axes enter the transformer: `sum`, `concat` or `cross` fusion.

Every fusion embeds all K axes with ONE table, `table`, whose rows are the
concatenated axis vocabularies: axis k's label i is row `offsets[k] + i`. One
gather embeds every axis at every position; nothing in a forward pass loops
over the axes in Python.

    sum      the axis embeddings (width n_embd) are added to the token and
             position embeddings. The default, and the cheapest.
    concat   each axis has its own width (AxisSpec.dim, default n_embd // 4);
             [token+position | axis 1 | ... | axis K] is projected back to
             n_embd by one linear layer whose main block starts as the
             identity, so the residual stream starts as the baseline's.
    cross    the prototype's design. Each axis has a stream of its own
             (its embedding plus the shared position embedding) with its own
             weights, run beside the main stream. In every block, after the
             main stream's self-attention: every meta stream does causal
             self-attention; the main stream cross-attends to each meta
             stream, giving K copies `x + cross_k(x, y_k)` which are averaged;
             each meta stream cross-attends to the main stream and runs its
             own MLP; then the main stream's MLP. Cross-attention is causal
             too: streams are aligned by position, so position t sees the
             other stream up to t. The K meta streams' weights are stacked
             ([K, in, out]) and run as one batch. In the last block the meta
             streams' own update (cross from main, MLP) would feed nothing,
             so it does not exist there (no parameters without gradients,
             which DDP would refuse). Predict heads read the main stream, as
             in the other fusions.

The attention every stream shares is `attend` (causal, optionally local:
a window of the last positions, computed block by block), with `KVCache`
for incremental decoding.

Axis parameters are initialised from their own torch.Generator (see
`init_`), never from the global RNG, so adding axes to a model leaves its
backbone's initialisation, and every later draw of the global RNG, unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import skip_init


def dropout_layer(p: float) -> nn.Module:
    """nn.Dropout(p), or for p = 0 an Identity: the same function, but a third
    of the call's cost, which counts when decoding calls it 9+ times a token."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


class KVCache:
    """Keys and values of the positions seen so far, per attention, for
    incremental decoding; `pos` is how many positions that is. Buffers hold
    `size` positions (growing by doubling past it), so a step writes its
    keys in place instead of copying the past."""

    def __init__(self, size: int = 0):
        self.pos, self.size = 0, size
        self.kv: dict = {}
        self.boundaries = None  # the hierarchy's global stack: its own cache (hierarchy.GlobalCache)

    def extend(self, slot, k, v):
        end = self.pos + k.size(-2)
        old = self.kv.get(slot)
        if old is None or old[0].size(-2) < end:
            size = max(end, self.size, 2 * old[0].size(-2) if old else 0)
            new = tuple(x.new_empty(*x.shape[:-2], size, x.shape[-1]) for x in (k, v))
            for buf, past in zip(new, old or ()):
                buf[..., : self.pos, :] = past[..., : self.pos, :]
            self.kv[slot] = old = new
        old[0][..., self.pos : end, :] = k
        old[1][..., self.pos : end, :] = v
        return old[0][..., :end, :], old[1][..., :end, :]


def attend(q, k, v, cache=None, slot=None, dropout_p: float = 0.0, window: int = 0):
    """Causal attention of queries at the last q.size(-2) positions over all
    cached and new keys. With a cache, the new keys and values are appended to
    `cache` under `slot` first (incremental decoding). `window` > 0: each
    query sees only the last `window` positions, its own included (local
    attention)."""
    if cache is not None:
        k, v = cache.extend(slot, k, v)
    n, total = q.size(-2), k.size(-2)
    if window and total > window:
        if n == total:
            return banded_attention(q, k, v, window, dropout_p)
        if n == 1:
            k, v, total = k[..., -window:, :], v[..., -window:, :], window
        else:  # query i sits at position total - n + i and sees (i + total - n - window, i + total - n]
            mask = torch.ones(n, total, dtype=torch.bool, device=q.device)
            mask = mask.tril(total - n) & ~mask.tril(total - n - window)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    if n == total:  # a whole window, or the first chunk of one
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    if n == 1:  # one new position sees everything before it
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    # a chunk after cached positions: query i sits at position total - n + i
    mask = torch.ones(n, total, dtype=torch.bool, device=q.device).tril(total - n)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


def banded_attention(q, k, v, window: int, dropout_p: float = 0.0):
    """Local causal attention over a whole sequence [..., H, T, d] in blocks of
    `window` queries, each over its own block and the one before: T * 2
    window scores instead of T^2, the same result as a banded mask."""
    T, W = q.size(-2), window
    pad = -T % W
    if pad:  # padded keys come after every real query's band; padded queries are dropped
        q, k, v = (F.pad(z, (0, 0, 0, pad)) for z in (q, k, v))
    blocks = (T + pad) // W
    q, k, v = (z.unflatten(-2, (blocks, W)) for z in (q, k, v))  # [..., H, blocks, W, d]
    # the first block sees itself only; every other one [previous block | own block], key j of
    # which query i sees when i < j <= i + W (one mask for all: [W, 2W])
    first = F.scaled_dot_product_attention(q[..., 0, :, :], k[..., 0, :, :], v[..., 0, :, :], dropout_p=dropout_p,
                                           is_causal=True)
    i, j = torch.arange(W, device=q.device)[:, None], torch.arange(2 * W, device=q.device)
    k, v = (torch.cat([z[..., :-1, :, :], z[..., 1:, :, :]], dim=-2) for z in (k, v))  # [..., H, blocks-1, 2W, d]
    rest = F.scaled_dot_product_attention(q[..., 1:, :, :], k, v, attn_mask=(j > i) & (j <= i + W), dropout_p=dropout_p)
    return torch.cat([first[..., None, :, :], rest], dim=-3).flatten(-3, -2)[..., :T, :]


class StackedLinear(nn.Module):
    """K independent linear layers run as one batched matmul.
    x: [K, N, n_in], or [N, n_in] shared by all K  ->  [K, N, n_out]."""

    def __init__(self, k: int, n_in: int, n_out: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, n_in, n_out))
        self.bias = nn.Parameter(torch.empty(k, 1, n_out)) if bias else None

    def forward(self, x):
        y = torch.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias


class StackedLayerNorm(nn.Module):
    """K layer norms with their own gains: x [K, ..., C]."""

    def __init__(self, k: int, width: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, 1, 1, width))
        self.bias = nn.Parameter(torch.empty(k, 1, 1, width)) if bias else None

    def forward(self, x):
        y = F.layer_norm(x, x.shape[-1:]) * self.weight
        return y if self.bias is None else y + self.bias


class StackedAttention(nn.Module):
    """K causal attentions with their own weights, as one batch. Queries come
    from `xq`, keys and values from `xkv`; each is either K streams
    [K, B, T, C] or one stream [B, T, C] shared by all K."""

    def __init__(self, k: int, config):
        super().__init__()
        c = config.n_embd
        self.k, self.n_head, self.dropout = k, config.n_head, config.dropout
        self.q = StackedLinear(k, c, c, config.bias)
        self.kv = StackedLinear(k, c, 2 * c, config.bias)
        self.proj = StackedLinear(k, c, c, config.bias)
        self.resid_drop = dropout_layer(config.dropout)

    def forward(self, xq, xkv, cache=None, slot=None):
        K, (B, T, C), H = self.k, xq.shape[-3:], self.n_head
        q = self.q(xq.reshape(-1, B * T, C))
        k, v = self.kv(xkv.reshape(-1, B * T, C)).split(C, dim=-1)
        # [K, B*T, C] -> [K*B, H, T, C/H]: the K attentions are one batch
        q, k, v = (z.reshape(K * B, T, H, C // H).transpose(1, 2) for z in (q, k, v))
        y = attend(q, k, v, cache, slot, self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(K, B * T, C)
        return self.resid_drop(self.proj(y)).view(K, B, T, C)


class CrossLayer(nn.Module):
    """What `cross` fusion adds to one block (see the module docstring)."""

    def __init__(self, k: int, config, last: bool):
        super().__init__()
        c, bias = config.n_embd, config.bias
        self.ln_meta = StackedLayerNorm(k, c, bias)
        self.meta_attn = StackedAttention(k, config)
        self.ln_main = nn.LayerNorm(c, bias=bias)
        self.ln_cross = StackedLayerNorm(k, c, bias)
        self.from_meta = StackedAttention(k, config)  # main queries, meta keys: one per axis
        self.last = last
        if not last:
            self.from_main = StackedAttention(k, config)  # meta queries, main keys
            self.ln_mlp = StackedLayerNorm(k, c, bias)
            self.fc = StackedLinear(k, c, 4 * c, bias)
            self.fc_proj = StackedLinear(k, 4 * c, c, bias)
            self.mlp_drop = dropout_layer(config.dropout)

    def forward(self, x, y, cache=None, layer: int = 0):
        h = self.ln_meta(y)
        y = y + self.meta_attn(h, h, cache, ("meta", layer))
        hx, hy = self.ln_main(x), self.ln_cross(y)
        # K copies of the main stream, each updated from one axis, averaged
        x_new = x + self.from_meta(hx, hy, cache, ("from_meta", layer)).mean(0)
        if not self.last:
            y = y + self.from_main(hy, hx, cache, ("from_main", layer))
            K, B, T, C = y.shape
            h = F.gelu(self.fc(self.ln_mlp(y).view(K, B * T, C)))
            y = y + self.mlp_drop(self.fc_proj(h)).view(K, B, T, C)
        return x_new, y


class AxisFusion(nn.Module):
    """Base: the one embedding table of all axes, with per-axis row offsets."""

    def __init__(self, config, width: int):
        super().__init__()
        sizes = [a.vocab_size for a in config.axes]
        self.table = nn.Parameter(torch.empty(sum(sizes), width))
        offsets = torch.tensor([0] + sizes[:-1]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)

    def rows(self, ids):
        """Axis ids [B, T, K] -> rows of `table`."""
        return ids + self.offsets

    def mix(self, layer: int, x, meta, cache=None):
        return x, meta  # only cross fusion works inside the blocks

    def init_(self, generator: torch.Generator, n_layer: int) -> None:
        """Initialise every axis parameter from `generator` with GPT's scheme:
        N(0, 0.02) matrices, residual output projections N(0, 0.02/sqrt(2
        n_layer)), zero biases, unit layer-norm gains."""

        def normal(p, std):
            p.copy_(torch.randn(p.shape, generator=generator, device="cpu") * std)

        with torch.no_grad():
            normal(self.table, 0.02)
            for name, module in self.named_modules():
                if isinstance(module, (nn.LayerNorm, StackedLayerNorm)):
                    module.weight.fill_(1.0)
                elif isinstance(module, (nn.Linear, StackedLinear)):
                    residual = name.endswith((".proj", "fc_proj"))
                    normal(module.weight, 0.02 / math.sqrt(2 * n_layer) if residual else 0.02)
                else:
                    continue
                if module.bias is not None:
                    module.bias.zero_()

    def start_new_axes_at_zero(self, k_old: int) -> None:
        """After `expand` copied an old model's weights into the first k_old
        axes: make the new axes change nothing in the main stream yet."""
        with torch.no_grad():
            self.table[int(self.offsets[k_old]) :].zero_()


class SumFusion(AxisFusion):
    def __init__(self, config):
        super().__init__(config, config.n_embd)

    def embed(self, emb, ids, pos_emb):
        return emb + F.embedding(self.rows(ids), self.table).sum(-2), None


class ConcatFusion(AxisFusion):
    def __init__(self, config):
        dims = [a.dim or config.n_embd // 4 for a in config.axes]
        width = max(dims)
        super().__init__(config, width)
        self.register_buffer("dims", torch.tensor(dims), persistent=False)
        # axis k's first dims[k] columns, in the flattened [K * width] gather
        keep = torch.cat([k * width + torch.arange(d) for k, d in enumerate(dims)])
        self.register_buffer("keep", keep, persistent=False)
        # skip_init: no draw from the global RNG (init_ fills it from the axes' generator)
        self.proj = skip_init(nn.Linear, config.n_embd + sum(dims), config.n_embd, bias=config.bias)

    def embed(self, emb, ids, pos_emb):
        axes = F.embedding(self.rows(ids), self.table).flatten(2).index_select(-1, self.keep)
        return self.proj(torch.cat([emb, axes], dim=-1)), None

    def init_(self, generator, n_layer):
        super().init_(generator, n_layer)
        with torch.no_grad():
            # table columns beyond an axis's dim are padding: zero, and no gradient reaches them
            sizes = torch.diff(self.offsets.cpu(), append=torch.tensor([self.table.shape[0]], device="cpu"))
            row_dims = self.dims.cpu().repeat_interleave(sizes.cpu())
            used = torch.arange(self.table.shape[1], device="cpu") < row_dims[:, None]
            self.table.mul_(used.to(self.table.device))
            c = self.proj.weight.shape[0]
            self.proj.weight[:, :c].copy_(torch.eye(c, device="cpu"))  # the main block starts as the identity

    def start_new_axes_at_zero(self, k_old):
        # the new axes' embeddings keep their random start and their projection
        # columns start at zero instead: zeros on both sides would get no gradient
        with torch.no_grad():
            first_new = self.proj.weight.shape[0] + int(self.dims[:k_old].sum())
            self.proj.weight[:, first_new:].zero_()


class CrossFusion(AxisFusion):
    def __init__(self, config):
        super().__init__(config, config.n_embd)
        k, n = len(config.axes), config.n_layer
        self.layers = nn.ModuleList(CrossLayer(k, config, last=i == n - 1) for i in range(n))
        self.drop = dropout_layer(config.dropout)

    def embed(self, emb, ids, pos_emb):
        meta = F.embedding(self.rows(ids), self.table).permute(2, 0, 1, 3) + pos_emb
        return emb, self.drop(meta)  # meta streams [K, B, T, C]

    def mix(self, layer, x, meta, cache=None):
        return self.layers[layer](x, meta, cache, layer)

    def start_new_axes_at_zero(self, k_old):
        super().start_new_axes_at_zero(k_old)
        k_new = len(self.offsets)
        with torch.no_grad():
            for layer in self.layers:
                proj = layer.from_meta.proj
                for p in (proj.weight, proj.bias):
                    if p is not None:
                        p[k_old:].zero_()  # new axes' copies of the main stream are unchanged ...
                        p[:k_old] *= k_new / max(k_old, 1)  # ... and the mean over K keeps the old sum


FUSIONS = {"sum": SumFusion, "concat": ConcatFusion, "cross": CrossFusion}
