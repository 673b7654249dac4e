"""Speed of the hierarchical grid transformer against the flat one, at block 512 (issue 17).

    python benchmarks/bench_hierarchy.py [--rounds N] [--steps N] [--threads N] [--device D] [--quick]

A training step (forward + backward + AdamW) at block 512 and one width
(n_embd = global_embd), in one process, on random windows:

    flat              n_layer = 8 blocks over every character (the reference)
    every:8           SpaceByte's shape at the same depth: 4 local blocks (attention window
                      64), 4 global blocks over every 8th position (64 a window)
                      target: hierarchical / flat step time <= 0.6
    axis, 1 in 6      the same, boundaries where a random axis says (about 1 position in 6,
                      like word starts), the global blocks capped at 128 a window (reported)

Beside each time: the estimated training FLOPs per character of the model
(model/network/flops.py) as a ratio to the flat model's, which the time
ratio should follow. Variants are interleaved round by round and each keeps
its median round, so load from other processes hits all alike. --quick: a
64-wide model, one round of two steps, to check that it runs (its numbers
are rough). Run the full benchmark alone; --device cuda times a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.network.flops import flops_per_char  # noqa: E402
from model.network.transformer import GridConfig, GridTransformer  # noqa: E402

VOCAB, BLOCK = 256, 512
WORDS = ("_", "B-WORD", "I-WORD")


def configs(width: int, heads: int) -> dict[str, tuple[GridConfig, float]]:
    """name -> (the model, its share of positions read by global blocks)."""
    flat = GridConfig(VOCAB, block_size=BLOCK, n_layer=8, n_head=heads, n_embd=width, bias=False)
    local = dict(n_layer=4, local_window=64, global_layers=4, global_embd=width, global_heads=heads)
    return {
        "flat": (flat, 0.0),
        "every:8": (GridConfig(**{**flat.to_dict(), **local, "boundary": "every:8"}), 1 / 8),
        "axis, 1 in 6": (GridConfig(**{**flat.to_dict(), **local, "boundary": "words", "boundary_vocab": WORDS,
                                       "global_block": 128}), 1 / 6),
    }


def variants(width: int, heads: int, batch: int, device: str) -> dict:
    """name -> (step function, FLOPs per character)."""
    g = torch.Generator().manual_seed(0)
    main = torch.randint(VOCAB, (batch, BLOCK + 2), generator=g).to(device)
    starts = (torch.rand(batch, BLOCK + 2, 1, generator=g) < 1 / 6).long()  # B-WORD where a "word" starts ...
    labels = torch.where(starts > 0, 1, 2).to(device)  # ... I-WORD elsewhere
    steps = {}
    for name, (config, rate) in configs(width, heads).items():
        torch.manual_seed(0)
        net = GridTransformer(config).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.1)
        meta = labels if config.boundary_axis else None

        def step(net=net, opt=opt, meta=meta):
            loss = net(main, meta).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        steps[name] = (step, flops_per_char(config, rate))
    return steps


def time_steps(width: int, heads: int, batch: int, rounds: int, steps: int, device: str) -> tuple[dict, dict]:
    """Median seconds per training step of each variant, interleaved round by
    round, and each variant's FLOPs per character."""
    found = variants(width, heads, batch, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for step, _ in found.values():  # warm-up
        step()
    times = {name: [] for name in found}
    names = list(found)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            sync()
            t0 = time.perf_counter()
            for _ in range(steps):
                found[name][0]()
            sync()
            times[name].append((time.perf_counter() - t0) / steps)
    return {name: statistics.median(ts) for name, ts in times.items()}, {n: f for n, (_, f) in found.items()}


def rows(rounds: int = 3, steps: int = 3, threads: int = 2, quick: bool = False, device: str = "cpu") -> list[dict]:
    """[{name, value, unit, ratio, of, target}]: ms per step of each variant,
    the hierarchical ones as a ratio to flat (every:8: target <= 0.6), and
    their FLOPs ratio."""
    torch.set_num_threads(threads)
    width, heads, batch = (64, 4, 2) if quick else (256, 8, 4)
    seconds, flops = time_steps(width, heads, batch, rounds, steps, device)
    note = " (--quick)" if quick else ""
    out = []
    for name, s in seconds.items():
        hier = name != "flat"
        out.append({"name": f"train step, block {BLOCK}, {width} wide{note}: {name}", "value": s * 1e3, "unit": "ms",
                    "ratio": s / seconds["flat"] if hier else None, "of": "flat" if hier else None,
                    "target": 0.6 if name == "every:8" else None})
        if hier:
            out.append({"name": f"estimated FLOPs per char: {name}", "value": flops[name] / flops["flat"], "unit": "x",
                        "ratio": None, "of": None, "target": None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="steps per variant per round")
    parser.add_argument("--threads", type=int, default=min(2, torch.get_num_threads()))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="a small model, one round: checks that it runs")
    args = parser.parse_args()
    rounds, steps = (1, 2) if args.quick else (args.rounds, args.steps)
    for r in rows(rounds, steps, args.threads, args.quick, args.device):
        ratio = f"  {r['ratio']:.2f}x {r['of']}" if r["ratio"] is not None else ""
        target = f"  (target <= {r['target']}x)" if r["target"] else ""
        unit = "x" if r["unit"] == "x" else f" {r['unit']}"
        print(f"{r['name']}: {r['value']:.2f}{unit}{ratio}{target}")


if __name__ == "__main__":
    main()
