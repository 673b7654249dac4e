"""The grid transformer: a character GPT that also reads and predicts meta axes.

The backbone is GPT-2 as nanoGPT writes it: learned token and position
embeddings, pre-LayerNorm blocks of causal self-attention and a GELU MLP (x4),
dropout, optional biases, the token embedding tied to the output layer, and
N(0, 0.02) initialisation with residual projections scaled by
1/sqrt(2 n_layer). A model without axes IS that baseline: the axis code below
is skipped, it has exactly the baseline's parameters, and draws the same
random numbers.

Axes (docs/design.md, "Causality"). The model reads windows of T+2 positions,
main [B, T+2] and meta [B, T+2, K], and runs T positions. At position t:

    input    main m_t;  context axis a_t;  predict axis a_{t+1};  oracle axis a_t
    target   m_{t+1};   predict axis a_{t+2}

so the model factorises p(m_{t+1}, a_{t+2} | m_<=t, a_<=t+1): a predict axis
leads the main stream by one step, and its next label is predicted beside the
next character. Context and oracle axes have no head.

A loss mask (`loss_mask`, an axis fed `as mask`) is not read: it is the last
column of meta, and the main loss and scores count only the targets m_{t+1}
whose mask label is not empty (`scored` says how many there were).

A hierarchical model (GridConfig.boundary; model/network/hierarchy.py)
runs global blocks on the hidden states at boundary positions between the
two halves of its blocks. A boundary axis is the last column of meta
(after the loss mask) and of the aligned axis inputs (its label at t, like
a context axis's): the hierarchy reads it, nothing embeds it.
`local_window` limits every block's self-attention to the last positions
(fusion.attend).

All axes are embedded by one table with per-axis row offsets (model/network/fusion.py);
all predict heads are ONE linear layer over the concatenated vocabularies.
The per-axis cross-entropies come from one loop-free trick: a column of -inf
is appended to the head's output, and one gather with a fixed [K_predict,
V_max] index lays the logits out as [B, T, K_predict, V_max], each axis's
vocabulary padded with that -inf column. Softmax gives the padding
probability 0 (and gradient 0), so one `F.cross_entropy` over the last
dimension is every axis's own cross-entropy at once.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import attrs
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import skip_init

from grid_dsl.data.plan import MODES  # the one definition of the modes

from model.network.fusion import FUSIONS, KVCache, attend, dropout_layer  # KVCache: imported from here too
from model.network.hierarchy import Hierarchy, check_hierarchy


@attrs.frozen
class AxisSpec:
    """One meta axis the model reads: `vocab_size` labels (id 0 = no label),
    its mode, its loss weight (training only, predict axes) and, for concat
    fusion, its embedding width (default n_embd // 4)."""

    name: str
    vocab_size: int = attrs.field(validator=attrs.validators.ge(1))
    mode: str = attrs.field(validator=attrs.validators.in_(tuple(m for m in MODES if m != "mask")))
    weight: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    dim: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))

    @classmethod
    def of(cls, axis) -> "AxisSpec":
        """The spec of an axis a dataset stores (the manifest's AxisEntry) or a
        checkpoint's model reads (ModelAxis): the one place either becomes one."""
        return cls(axis.name, len(axis.vocab), axis.mode, float(axis.weight), axis.dim)


def _to_axes(axes) -> tuple[AxisSpec, ...]:
    return tuple(a if isinstance(a, AxisSpec) else AxisSpec(**a) for a in axes)


@attrs.frozen
class GridConfig:
    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    fusion: str = attrs.field(default="sum", validator=attrs.validators.in_(tuple(FUSIONS)))
    axes: tuple[AxisSpec, ...] = attrs.field(default=(), converter=_to_axes)
    loss_mask: str | None = None  # the dataset axis (fed `as mask`) whose labelled characters are scored
    # the hierarchy (model/network/hierarchy.py; TrainConfig's keys): boundary "" is the flat model
    boundary: str = ""  # a dataset axis, or every:K
    boundary_vocab: tuple[str, ...] = attrs.field(default=(), converter=tuple)  # the boundary axis's labels, id order
    global_layers: int = 2
    global_embd: int = 0  # 0 = n_embd
    global_heads: int = 0  # 0 = n_head
    local_window: int = 0  # 0 = block_size
    global_block: int = 0  # 0 = block_size

    def __attrs_post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} is not a multiple of n_head={self.n_head}")
        names = [a.name for a in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names repeat: {names}")
        check_hierarchy(self)

    @property
    def boundary_axis(self) -> str | None:
        """The dataset axis whose labels mark the boundaries (meta's last column), if any."""
        return self.boundary if self.boundary and not self.boundary.startswith("every:") else None

    @property
    def predict_axes(self) -> tuple[AxisSpec, ...]:
        return tuple(a for a in self.axes if a.mode == "predict")

    def to_dict(self) -> dict:
        """Plain values only (axes as a list of dicts): what a checkpoint stores."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "GridConfig":
        return cls(**values)


class GridOutput(NamedTuple):
    loss: torch.Tensor  # training loss: CE(main) + sum_k weight_k CE(axis k)
    nll_main: torch.Tensor  # mean nats per scored main position
    nll_axes: dict  # predict axis name -> mean nats per position (unweighted)
    logits: torch.Tensor  # main logits [B, T, vocab_size]
    scored: torch.Tensor | int  # main positions scored: B*T, or those the loss mask keeps


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GridConfig):
        super().__init__()
        self.n_head, self.dropout, self.window = config.n_head, config.dropout, config.local_window
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = dropout_layer(config.dropout)

    def forward(self, x, cache=None, layer: int = 0):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = attend(q, k, v, cache, ("self", layer), self.dropout if self.training else 0.0, self.window)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GridConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = dropout_layer(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GridConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None, layer: int = 0):
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GridTransformer(nn.Module):
    def __init__(self, config: GridConfig):
        super().__init__()
        self.config = c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            drop=dropout_layer(c.dropout),
            h=nn.ModuleList(Block(c) for _ in range(c.n_layer)),
            ln_f=nn.LayerNorm(c.n_embd, bias=c.bias),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # residual projections
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))
        self.fusion = self.axis_head = self.hierarchy = None
        if c.axes:
            self._build_axes()
        if c.boundary:
            self.hierarchy = Hierarchy(c, MLP)

    def _build_axes(self):
        """Axis parameters come after the backbone and draw nothing from the
        global RNG (a generator seeded from the global seed instead), so the
        backbone and the rest of a run are those of the baseline."""
        c = self.config
        self.fusion = FUSIONS[c.fusion](c)
        generator = torch.Generator().manual_seed((torch.initial_seed() + 1) % 2**63)
        self.fusion.init_(generator, c.n_layer)
        lead = [int(a.mode == "predict") for a in c.axes]  # a predict axis is read one step ahead
        self.register_buffer("lead", torch.tensor(lead), persistent=False)
        predict = c.predict_axes
        if not predict:
            return
        sizes = [a.vocab_size for a in predict]
        self.axis_head = skip_init(nn.Linear, c.n_embd, sum(sizes), bias=False)
        weight = torch.randn(self.axis_head.weight.shape, generator=generator, device="cpu") * 0.02
        with torch.no_grad():
            self.axis_head.weight.copy_(weight)
        cols = [i for i, a in enumerate(c.axes) if a.mode == "predict"]
        self.register_buffer("predict_cols", torch.tensor(cols), persistent=False)
        self.register_buffer("loss_weights", torch.tensor([float(a.weight) for a in predict]), persistent=False)
        # head_index[j, i] = column of axis j's label i in the head's output; sum(sizes) = the -inf pad
        sizes, label = torch.tensor(sizes), torch.arange(max(sizes))
        starts = sizes.cumsum(0) - sizes
        index = torch.where(label < sizes[:, None], starts[:, None] + label, sizes.sum())
        self.register_buffer("head_index", index, persistent=False)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    # ----------------------------------------------------------------- forward

    def align(self, main, meta=None):
        """Windows main [B, T+2], meta [B, T+2, K] -> (main input [B, T], axis
        input [B, T, K] or None, main targets [B, T], predict-axis targets
        [B, T, K_predict] or None), as the module docstring says. A model
        without axes ignores `meta`."""
        if main.dim() != 2 or main.size(1) < 3:
            raise ValueError(f"main must be [B, T+2] windows with T >= 1, got {tuple(main.shape)}")
        B, T = main.size(0), main.size(1) - 2
        idx, targets = main[:, :T], main[:, 1 : T + 1]
        c = self.config
        K = len(c.axes) + (c.loss_mask is not None) + (c.boundary_axis is not None)
        if K == 0:
            return idx, None, targets, None
        if meta is None or tuple(meta.shape) != (B, T + 2, K):
            got = None if meta is None else tuple(meta.shape)
            raise ValueError(f"meta must be [B, T+2, K] = {(B, T + 2, K)} windows, got {got}")
        boundary = None
        if c.boundary_axis is not None:  # the last column: the boundary labels a_t, after the axis inputs
            meta, boundary, K = meta[..., :-1], meta[:, :T, -1:], K - 1
        if c.loss_mask is not None:  # then the mask: ignored targets become -100
            targets = targets.masked_fill(meta[:, 1 : T + 1, -1] == 0, -100)
            meta, K = meta[..., :-1], K - 1
        if K == 0:
            return idx, boundary, targets, None
        index = (torch.arange(T, device=meta.device)[:, None] + self.lead).expand(B, T, K)
        axis_in = meta.gather(1, index) if boundary is None else torch.cat([meta.gather(1, index), boundary], -1)
        axis_targets = meta[:, 2:, self.predict_cols] if self.axis_head is not None else None
        return idx, axis_in, targets, axis_targets

    def hidden(self, idx, axis_in=None, cache: KVCache | None = None):
        """Final hidden states [B, T, n_embd] of positions given as model inputs
        (already aligned); with a cache, the positions follow the cached ones."""
        B, T = idx.shape
        boundary = None
        if self.config.boundary_axis is not None and axis_in is not None:  # the hierarchy's column, not embedded
            axis_in, boundary = (axis_in[..., :-1] if self.fusion is not None else None), axis_in[..., -1]
        start = cache.pos if cache is not None else 0
        if start + T > self.config.block_size:
            raise ValueError(f"{start + T} positions exceed block_size={self.config.block_size}")
        pos_emb = self.transformer.wpe.weight[start : start + T]  # positions start..start+T-1, without an arange
        emb, meta = self.transformer.wte(idx) + pos_emb, None
        if self.fusion is not None:
            emb, meta = self.fusion.embed(emb, axis_in, pos_emb)
        x = self.transformer.drop(emb)
        for i, block in enumerate(self.transformer.h):
            if self.hierarchy is not None and i == self.hierarchy.at:  # SpaceByte: between the halves
                x = self.hierarchy(x, boundary, cache)
            if meta is None:
                x = block(x, cache, i)
            else:  # cross fusion: the meta streams meet the main stream between attention and MLP
                x = x + block.attn(block.ln_1(x), cache, i)
                x, meta = self.fusion.mix(i, x, meta, cache)
                x = x + block.mlp(block.ln_2(x))
        if cache is not None:
            cache.pos += T
        return self.transformer.ln_f(x)

    def axis_logits(self, x):
        """Hidden states [..., C] -> predict-axis logits [..., K_predict, V_max],
        each axis's vocabulary padded with -inf (the trick in the docstring)."""
        z = F.pad(self.axis_head(x), (0, 1), value=float("-inf"))
        return z[..., self.head_index]

    def forward(self, main, meta=None) -> GridOutput:
        idx, axis_in, targets, axis_targets = self.align(main, meta)
        x = self.hidden(idx, axis_in)
        logits = self.lm_head(x)
        targets = targets.reshape(-1)
        nll_main = F.cross_entropy(logits.flatten(0, 1), targets)  # -100 (masked) is ignored, as in nanoGPT
        scored = targets.numel() if self.config.loss_mask is None else (targets != -100).sum()
        if self.config.loss_mask is not None:
            nll_main = torch.nan_to_num(nll_main)  # a window with nothing to score adds 0 nats over 0 positions
        loss, nll_axes = nll_main, {}
        if self.axis_head is not None:
            z = self.axis_logits(x)
            ce = F.cross_entropy(z.flatten(0, 2), axis_targets.reshape(-1), reduction="none")
            ce = ce.view(-1, z.size(2)).mean(0)  # [K_predict]: each axis's mean over positions
            loss = loss + (ce * self.loss_weights).sum()
            nll_axes = dict(zip((a.name for a in self.config.predict_axes), ce.unbind()))
        return GridOutput(loss, nll_main, nll_axes, logits, scored)

    def logits(self, idx, axis_in=None, cache: KVCache | None = None, last: bool = False):
        """Inference on aligned inputs: (main logits [B, T, V], predict-axis
        logits [B, T, K_predict, V_max] or None); `last` keeps only the last
        position's."""
        x = self.hidden(idx, axis_in, cache)
        if last:
            x = x[:, -1:]
        return self.lm_head(x), (self.axis_logits(x) if self.axis_head is not None else None)

    # ------------------------------------------------------------- utilities

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters (tied ones once); like nanoGPT, without the position
        embeddings unless non_embedding=False (token embeddings count: they
        are the output layer too)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: matrices and embeddings decay; biases and layer-norm
        gains (including the stacked [K, ...] ones of cross fusion) do not.
        Frozen parameters (see `expand`) are left out."""
        no_decay = {id(m.weight) for m in self.modules() if "LayerNorm" in type(m).__name__}
        no_decay |= {id(p) for name, p in self.named_parameters() if name.endswith("bias")}
        params = [p for p in self.parameters() if p.requires_grad]
        return [
            {"params": [p for p in params if p.dim() >= 2 and id(p) not in no_decay], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2 or id(p) in no_decay], "weight_decay": 0.0},
        ]

    def checkpoint(self) -> dict:
        """{"config": plain dict, "model": state_dict}: loadable with
        torch.load(weights_only=True) and `from_checkpoint`."""
        return {"config": self.config.to_dict(), "model": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, state: dict) -> "GridTransformer":
        """The model a `checkpoint()` dict describes (other keys are ignored;
        weights saved from torch.compile or DDP wrappers load too). Building it
        leaves the global RNG untouched."""
        from grid_dsl.language.diagnostics import UserError  # the spec language is not needed otherwise

        try:
            config = GridConfig.from_dict(dict(state["config"]))
            weights = {k.removeprefix("_orig_mod.").removeprefix("module."): v for k, v in state["model"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(f"not a MultiGrid model checkpoint (config or weights unreadable: {e!r})") from None
        with torch.random.fork_rng(devices=[]):
            net = cls(config)
        try:
            net.load_state_dict(weights)
        except RuntimeError as e:
            raise UserError(f"the checkpoint's weights do not match its config: {e}") from None
        return net


def expand(net: GridTransformer, new_axes, *, freeze: bool = False) -> GridTransformer:
    """A copy of `net` that also reads `new_axes` (AxisSpec or dicts), with
    every old weight kept and the new axes changing nothing yet: its main
    logits equal net's at step 0. New embeddings start at zero (concat: the
    new columns of the projection instead, since zero embeddings behind a
    zero projection would get no gradient); new predict heads start at zero
    (uniform predictions). `freeze` stops gradients to the backbone (token
    and position embeddings, blocks, final norm); axis parameters, old and
    new, stay trainable (old and new axes share their tensors)."""
    old = net.config
    config = attrs.evolve(old, axes=old.axes + _to_axes(new_axes))
    with torch.random.fork_rng(devices=[]):
        bigger = GridTransformer(config)
    ref = next(net.parameters())
    bigger.to(device=ref.device, dtype=ref.dtype)
    mine = bigger.state_dict()
    with torch.no_grad():
        for name, value in net.state_dict().items():  # old tensors fill the leading corner
            mine[name][tuple(slice(0, n) for n in value.shape)].copy_(value)
        bigger.fusion.start_new_axes_at_zero(len(old.axes))
        if bigger.axis_head is not None:
            bigger.axis_head.weight[sum(a.vocab_size for a in old.predict_axes) :].zero_()
    if freeze:
        bigger.transformer.requires_grad_(False)  # lm_head is tied to wte
        if bigger.hierarchy is not None:
            bigger.hierarchy.requires_grad_(False)
    bigger.train(net.training)
    return bigger
