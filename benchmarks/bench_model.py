"""Speed of the grid transformer on CPU, against the targets of issue 4.

    python benchmarks/bench_model.py [--rounds N] [--steps N] [--threads N]

Training step = forward + backward + AdamW step, at nanoGPT's small CPU
configuration for tiny Shakespeare (4 layers, 4 heads, 128 wide, block 64,
batch 12, no dropout, no biases, vocabulary 65), on random windows:

    minimal GPT       a plain PyTorch GPT written below (same shapes): the floor
    baseline          GridTransformer without axes      target <= 1.05x minimal
    sum, 1/3/6 axes   sum fusion; 3 axes                 target <= 1.08x baseline
    concat, cross     1, 3 and 6 axes each (reported)

The axes are realistic sizes (POS 18, lexicon 40, stage 6, ...), two thirds
of them `predict` (heads and losses), a third `context`. Variants are
interleaved round by round (each round times every variant once, in a
rotating order) and each variant's median round is kept, so a burst of load
from another process hits all variants alike.

Sampling: 1,000 characters at block size 256 (same 4x128 model, 3 sum
axes, one of them context, with a trivial context callback), with the KV
cache (default window shift: a quarter block) vs recomputing the window at
every step; target >= 5x. Both are warmed up, then timed in 3 interleaved
rounds (median), with one thread and with --threads.

On a shared machine, two threads per process spin-wait on each other's
cores: times swing by 2-10x when another process runs. Run it alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.network.generate import generate  # noqa: E402
from model.network.transformer import AxisSpec, GridConfig, GridTransformer  # noqa: E402

VOCAB, BLOCK, BATCH, LAYERS, HEADS, WIDTH = 65, 64, 12, 4, 4, 128
STEPS_PER_ROUND = 10
AXIS_POOL = [("pos", 18, "predict"), ("lex", 40, "predict"), ("stage", 6, "context"),
             ("chunk", 10, "predict"), ("role", 25, "predict"), ("para", 4, "context")]


class MinimalGPT(nn.Module):
    """The reference: a GPT training step in plain PyTorch, nothing else."""

    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(VOCAB, WIDTH), nn.Embedding(BLOCK, WIDTH)
        self.blocks = nn.ModuleList(nn.ModuleDict(dict(
            ln1=nn.LayerNorm(WIDTH, bias=False), qkv=nn.Linear(WIDTH, 3 * WIDTH, bias=False),
            proj=nn.Linear(WIDTH, WIDTH, bias=False), ln2=nn.LayerNorm(WIDTH, bias=False),
            fc=nn.Linear(WIDTH, 4 * WIDTH, bias=False), out=nn.Linear(4 * WIDTH, WIDTH, bias=False),
        )) for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH, bias=False)
        self.head = nn.Linear(WIDTH, VOCAB, bias=False)
        self.wte.weight = self.head.weight

    def forward(self, x, y):
        B, T = x.shape
        h = self.wte(x) + self.wpe(torch.arange(T))
        for b in self.blocks:
            q, k, v = b.qkv(b.ln1(h)).split(WIDTH, dim=2)
            q, k, v = (z.view(B, T, HEADS, -1).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, WIDTH)
            h = h + b.proj(a)
            h = h + b.out(F.gelu(b.fc(b.ln2(h))))
        return F.cross_entropy(self.head(self.ln_f(h)).view(-1, VOCAB), y.reshape(-1))


def axes(n: int) -> tuple[AxisSpec, ...]:
    return tuple(AxisSpec(name, size, mode) for name, size, mode in AXIS_POOL[:n])


def grid(n_axes: int, fusion: str = "sum", block: int = BLOCK) -> GridTransformer:
    torch.manual_seed(0)
    return GridTransformer(GridConfig(VOCAB, block_size=block, n_layer=LAYERS, n_head=HEADS, n_embd=WIDTH,
                                      dropout=0.0, bias=False, fusion=fusion, axes=axes(n_axes)))


def training_variants():
    """name -> step function: the minimal GPT, the baseline, then every
    fusion at 1, 3 and 6 axes."""
    g = torch.Generator().manual_seed(0)
    main = torch.randint(VOCAB, (BATCH, BLOCK + 2), generator=g)
    meta = torch.stack([torch.randint(size, (BATCH, BLOCK + 2), generator=g) for _, size, _ in AXIS_POOL], -1)
    variants = {}

    def add(name, net, loss_fn):
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.1)

        def step():
            loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        variants[name] = step

    torch.manual_seed(0)
    ref = MinimalGPT()
    add("minimal GPT", ref, lambda: ref(main[:, :BLOCK], main[:, 1 : BLOCK + 1]))
    grids = [("baseline", 0, "sum")] + [(f"{fusion}, {n} {'axes' if n > 1 else 'axis'}", n, fusion)
                                        for fusion in ("sum", "concat", "cross") for n in (1, 3, 6)]
    for name, n, fusion in grids:
        net = grid(n, fusion)
        add(name, net, lambda net=net, n=n: net(main, meta[..., :n]).loss)
    return variants


def time_training(rounds: int, steps: int = STEPS_PER_ROUND) -> dict[str, float]:
    """Median seconds per step of every variant, interleaved round by round
    (`steps` steps per variant per round)."""
    variants = training_variants()
    for step in variants.values():  # warm-up
        for _ in range(3):
            step()
    times = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            for _ in range(steps):
                variants[name]()
            times[name].append((time.perf_counter() - t0) / steps)
    return {name: statistics.median(ts) for name, ts in times.items()}


def time_sampling(chars: int = 1000, block: int = 256, rounds: int = 3, device="cpu") -> dict[str, float]:
    """Median seconds to sample `chars` characters with and without the KV
    cache: both warmed up first (a short sample each: the first call in a
    process pays one-off allocations), then interleaved round by round."""
    net = grid(3, block=block).to(device).eval()
    context = lambda ids: {"stage": [0] * len(ids)}  # noqa: E731 -- the caller's compiler, trivially
    variants = {"KV cache": dict(use_cache=True), "recompute": dict(use_cache=False)}
    for kw in variants.values():
        generate(net, [0], 20, context_fn=context, seed=0, **kw)
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, kw in variants.items():
            t0 = time.perf_counter()
            out = generate(net, [0], chars, context_fn=context, seed=0, **kw)
            times[name].append(time.perf_counter() - t0)
            assert out.main.shape == (1, chars + 1)
    return {name: statistics.median(ts) for name, ts in times.items()}


def run(rounds: int = 7, threads: int = 2, steps_per_round: int = STEPS_PER_ROUND) -> list[dict]:
    """[{name, value, unit, ratio, of, target}]: training_rows, then
    sampling_rows with one thread and with `threads` (decoding one sequence
    is latency-bound)."""
    return training_rows(rounds, threads, steps_per_round) + sampling_rows(sorted({1, threads}))


def training_rows(rounds: int = 7, threads: int = 2, steps_per_round: int = STEPS_PER_ROUND) -> list[dict]:
    """[{name, value, unit, ratio, of, target}]: ms per training step with
    `threads` threads, ratios to the minimal GPT and to the baseline; a
    target applies to the ratio."""
    torch.set_num_threads(threads)
    steps = time_training(rounds, steps_per_round)
    rows = []
    for name, seconds in steps.items():
        of, target = ("minimal GPT", 1.05) if name == "baseline" else ("baseline", None)
        if name == "sum, 3 axes":
            target = 1.08
        if name == "minimal GPT":
            of = None
        rows.append({"name": f"train step, {threads} thr: {name}", "value": seconds * 1e3, "unit": "ms",
                     "ratio": seconds / steps[of] if of else None, "of": of, "target": target})
    return rows


def sampling_rows(thread_counts=(1, 2), rounds: int = 3) -> list[dict]:
    """[{name, value, unit, ratio, of, target}]: seconds to sample with and
    without the KV cache (median of `rounds`), and the speed-up (target >=
    5x), per thread count."""
    threads = torch.get_num_threads()
    rows = []
    for n in thread_counts:
        torch.set_num_threads(n)
        sampling = time_sampling(rounds=rounds)
        for name, seconds in sampling.items():
            rows.append({"name": f"sample 1000 chars, block 256, {n} thr: {name}", "value": seconds, "unit": "s",
                         "ratio": None, "of": None, "target": None})
        rows.append({"name": f"KV cache speed-up, {n} thr", "value": sampling["recompute"] / sampling["KV cache"],
                     "unit": "x", "ratio": None, "of": None, "target": 5.0})
    torch.set_num_threads(threads)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=STEPS_PER_ROUND, help="training steps per variant per round")
    parser.add_argument("--threads", type=int, default=min(2, torch.get_num_threads()))
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {args.threads} threads; {LAYERS} layers x {WIDTH}, block {BLOCK}, "
          f"batch {BATCH}, vocab {VOCAB}; median of {args.rounds} interleaved rounds of {args.steps} steps")
    for r in run(args.rounds, args.threads, args.steps):
        line = f"{r['name']:44s} {r['value']:8.2f} {r['unit']:2s}"
        if r["ratio"] is not None:
            line += f"  {r['ratio']:5.3f}x {r['of']}"
        if r["target"] is not None:
            value = r["ratio"] if r["ratio"] is not None else r["value"]
            ok = value >= r["target"] if r["unit"] == "x" else value <= r["target"]
            sign = ">=" if r["unit"] == "x" else "<="
            line += f"  (target {sign} {r['target']:.2f}: {'ok' if ok else 'MISSED'})"
        print(line)


if __name__ == "__main__":
    main()
