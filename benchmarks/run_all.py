"""Every benchmark in one command: measured values, their ratios and targets in one table.

    python benchmarks/run_all.py                    # all of them (tens of minutes: 200 MB are compiled)
    python benchmarks/run_all.py --quick            # the same rows, smaller, to check it runs (~3 min)
    python benchmarks/run_all.py --only train,sample --json bench.json

The benchmarks, by the names --only takes, in the order they run:

    startup         seconds until `multigrid --help`, `fmt` and `check` of a spec without NLTK
                    axes answer (targets <= 0.3 s, 0.6 s, 0.6 s) [bench_startup.py]
    train           ms per training step at nanoGPT's CPU configuration (4 layers, 4 heads,
                    128 wide, block 64, batch 12, no dropout): a minimal plain-PyTorch GPT,
                    the baseline (target <= 1.05x the minimal GPT), and sum, concat and cross
                    fusion at 1, 3 and 6 axes (sum at 3: target <= 1.08x the baseline)
                    [bench_model.py]
    sample          1,000 characters at block size 256 with and without the KV cache
                    (speed-up target >= 5x) [bench_model.py]
    lexicon         lexicon axes of 100 patterns over Grimm, MB/s (target >= 5) [bench_lexicon.py]
    pos             POS axes over Grimm against nltk.pos_tag_sents (targets <= 1.25x, and
                    <= 1.5x for two POS axes / all of examples/fairy_tales.axes) [bench_pos.py]
    workers         compiling Grimm with 2 workers against 1 (target <= 0.65x) [bench_compile.py]
    prefix_check    compiling Grimm with examples/fairy_tales.axes with the compile-time prefix
                    check against without it (target <= 1.25x) [bench_prefix_check.py]
    state           MB/s of each long-range operator (latest, first, count, since, nesting)
                    over Grimm, its inputs compiled once (target >= 20) [bench_state.py]
    fuzz            1,000 mutated specs through `multigrid check`: failures (target 0) and the
                    slowest (target <= 20 s) [fuzz_specs.py]
    compile_memory  peak RSS compiling a 200 MB synthetic corpus with lexicon, grouping,
                    derived and annotation axes, 1 and 2 workers (target <= 1 GB)
                    [bench_compile.py]
    train_memory    peak RSS of a training process: minimal GPT, baseline, each fusion
                    (reported; no target) [bench_train_memory.py]
    hierarchy       ms per training step at block 512, one width: a flat 8-block model against
                    SpaceByte's shape (4 local blocks, window 64, and 4 global blocks every 8th
                    position: target <= 0.6x flat; and at axis boundaries, reported), with
                    their estimated FLOPs ratios [bench_hierarchy.py]

Memory is measured in fresh processes (one per compile or training run), so
no run inherits another's heap. --quick takes fewer rounds and repeats, one
thread for `train` and `sample`, a quarter of Grimm for `pos`, a 2 MB corpus for `compile_memory` (whose rows
say so: the target is for 200 MB), 10 training steps and sum fusion only for
`train_memory`; its numbers are rough. Run the full benchmark alone: other
processes on the cores move times by 2-10x (ratios less).

Each row: bench, name, value, unit, ratio and `of` (what the ratio is to:
a reference run, or "target" when the target is an absolute value), target,
sense (<= or >=), `on` (whether the target applies to the ratio or the
value) and ok (None without a target). The machine (CPU, cores, torch,
Python, load) is printed at the top; --json FILE writes it with the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # grid_dsl, when run from a clone that is not installed


def row(name: str, value: float, unit: str, *, ratio: float | None = None, of: str | None = None,
        target: float | None = None, sense: str = "<=", on: str = "ratio") -> dict:
    """One table row; an absolute target (on="value") gets the ratio value / target."""
    if target is not None and on == "value" and unit != "x":
        ratio, of = value / target, "target"
    return {"name": name, "value": value, "unit": unit, "ratio": ratio, "of": of, "target": target,
            "sense": sense, "on": on}


def verdict(r: dict) -> bool | None:
    """True when the row meets its target, False when it misses, None without one."""
    if r["target"] is None:
        return None
    measured = r["ratio"] if r["on"] == "ratio" else r["value"]
    return measured <= r["target"] if r["sense"] == "<=" else measured >= r["target"]


# ------------------------------------------------------------- the benchmarks
# Each takes `quick` and returns rows; the bench_* scripts' own rows differ in
# shape, so each is converted here.


def bench_startup(quick: bool) -> list[dict]:
    import bench_startup

    return [row(r["name"], r["value"], r["unit"], target=r["target"], on="value")
            for r in bench_startup.rows(rounds=3 if quick else bench_startup.ROUNDS)]


def bench_train(quick: bool) -> list[dict]:
    import bench_model
    import torch

    # --quick: one thread, which a loaded machine slows less (two threads spin-wait on each other)
    rows = bench_model.training_rows(rounds=2 if quick else 7, threads=1 if quick else min(2, torch.get_num_threads()),
                                     steps_per_round=3 if quick else bench_model.STEPS_PER_ROUND)
    return [row(r["name"], r["value"], r["unit"], ratio=r["ratio"], of=r["of"], target=r["target"]) for r in rows]


def bench_sample(quick: bool) -> list[dict]:
    import bench_model
    import torch

    threads = (1,) if quick else sorted({1, min(2, torch.get_num_threads())})
    return [row(r["name"], r["value"], r["unit"], target=r["target"], sense=">=", on="value")
            for r in bench_model.sampling_rows(threads, rounds=1 if quick else 3)]


def bench_lexicon(quick: bool) -> list[dict]:
    import bench_lexicon

    rows = bench_lexicon.run(sizes=(1,) if quick else (1, 4), repeats=1 if quick else bench_lexicon.REPEATS)
    return [row(r["name"], r["value"], "MB/s", target=r["target"], sense=">=", on="value") for r in rows]


def bench_pos(quick: bool) -> list[dict]:
    import bench_pos

    text, note = bench_pos.grimm(), ""
    if quick:
        text, note = text[: len(text) // 4], " (--quick: a quarter of Grimm)"
    return [row(r["name"] + note, r["value"], "s", ratio=None if r["name"].endswith("(floor)") else r["ratio"],
                of="pos_tag_sents", target=r["target"]) for r in bench_pos.run(text)]


def bench_workers(quick: bool) -> list[dict]:
    import bench_compile

    return [compile_row(r) for r in bench_compile.worker_rows(repeats=1 if quick else bench_compile.REPEATS)]


def bench_prefix_check(quick: bool) -> list[dict]:
    import bench_prefix_check

    return [row(r["name"], r["value"], r["unit"], ratio=r["ratio"], of="no check" if r["ratio"] else None,
                target=r["target"]) for r in bench_prefix_check.rows(repeats=1 if quick else 3, quick=quick)]


def bench_state(quick: bool) -> list[dict]:
    import bench_state

    text = bench_state.grimm()
    note = " (--quick: a quarter of Grimm)" if quick else ""
    text = text[: len(text) // 4] if quick else text
    return [row(r["name"] + note, r["value"], "MB/s", target=r["target"], sense=">=", on="value")
            for r in bench_state.rows(text, repeats=1 if quick else bench_state.REPEATS)]


def bench_fuzz(quick: bool) -> list[dict]:
    import fuzz_specs

    return [row(r["name"], r["value"], r["unit"], target=r["target"], on="value")
            for r in fuzz_specs.rows(n=100 if quick else 1000)]


def bench_compile_memory(quick: bool) -> list[dict]:
    import bench_compile

    if quick:
        rows = bench_compile.synthetic_rows(2, worker_counts=(1,))
        return [compile_row(r, note=" (--quick; the target is for 200 MB)") for r in rows]
    return [compile_row(r) for r in bench_compile.synthetic_rows(200, worker_counts=(1, 2))]


def compile_row(r: dict, note: str = "") -> dict:
    """bench_compile's rows: targets are upper bounds on the value (a time ratio in "x", or MB)."""
    return row(r["name"] + (note if r["unit"] == "MB" else ""), r["value"], r["unit"], target=r["target"], on="value")


def bench_train_memory(quick: bool) -> list[dict]:
    import bench_train_memory

    rows = bench_train_memory.run(steps=10 if quick else 100, fusions=("sum",) if quick else bench_train_memory.FUSIONS)
    return [row(r["name"], r["value"], r["unit"], ratio=r["ratio"], of=r["of"]) for r in rows]


def bench_hierarchy(quick: bool) -> list[dict]:
    import bench_hierarchy
    import torch

    rows = bench_hierarchy.rows(rounds=1 if quick else 3, steps=2 if quick else 3, quick=quick,
                                threads=1 if quick else min(2, torch.get_num_threads()))
    return [row(r["name"], r["value"], r["unit"], ratio=r["ratio"], of=r["of"], target=r["target"]) for r in rows]


BENCHES = {  # name -> function(quick) -> rows, in the order they run
    "startup": bench_startup,
    "train": bench_train,
    "sample": bench_sample,
    "lexicon": bench_lexicon,
    "pos": bench_pos,
    "workers": bench_workers,
    "prefix_check": bench_prefix_check,
    "state": bench_state,
    "fuzz": bench_fuzz,
    "compile_memory": bench_compile_memory,
    "train_memory": bench_train_memory,
    "hierarchy": bench_hierarchy,
}


# ------------------------------------------------------------- the report


def machine() -> dict:
    """Where the numbers come from: CPU model, cores, torch, Python, load."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "absent"
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch_version, "python": platform.python_version(),
            "os": platform.platform(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def machine_line(m: dict) -> str:
    load = ", ".join(f"{x:.2f}" for x in m["load_average"])
    return (f"machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, Python {m['python']}; "
            f"{m['os']}; load average {load} at start; {m['date']}")


def number(value: float) -> str:
    """Three significant figures at most, never scientific notation."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def cells(r: dict) -> list[str]:
    """bench, name, value, ratio, target, verdict as text."""
    ratio = f"{r['ratio']:.2f}x {r['of']}" if r["ratio"] is not None else "-"
    target = "-"
    if r["target"] is not None:
        target = (f"{r['sense']} {r['target']:g}x {r['of']}" if r["on"] == "ratio"
                  else f"{r['sense']} {r['target']:g}" + ("x" if r["unit"] == "x" else f" {r['unit']}"))
    ok = verdict(r)
    value = number(r["value"]) + ("x" if r["unit"] == "x" else f" {r['unit']}")
    return [r["bench"], r["name"], value, ratio, target,
            "" if ok is None else "ok" if ok else "MISSED"]


def format_table(rows: list[dict]) -> str:
    """The rows as aligned text columns under a header."""
    table = [["bench", "what", "value", "ratio", "target", ""]] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table)


def write_json(path: Path, report: dict) -> None:
    """Written through grid_dsl.data.files: never half-written."""
    from grid_dsl.data.files import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, to check that everything works (~3 min)")
    parser.add_argument("--only", help=f"comma-separated benchmarks, of: {', '.join(BENCHES)}")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the machine and the rows to FILE")
    args = parser.parse_args(argv)
    names = list(BENCHES)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in BENCHES]
        if unknown or not names:
            parser.error(f"--only {args.only}: unknown benchmark {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(BENCHES)}")

    info = machine()
    print(machine_line(info) + (" [--quick: rough numbers]" if args.quick else ""), flush=True)
    rows, failed = [], {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            rows += [{"bench": name, **r, "ok": None} for r in BENCHES[name](args.quick)]
        except Exception:  # one broken benchmark shouldn't cost the others' numbers
            failed[name] = traceback.format_exc()
            print(f"{name} FAILED:\n{failed[name]}", file=sys.stderr, flush=True)
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    for r in rows:
        r["ok"] = verdict(r)
    print(format_table(rows))
    if failed:
        print(f"failed: {', '.join(failed)} (tracebacks above, on stderr)")
    if args.json:
        write_json(args.json, {"machine": info, "quick": args.quick, "rows": rows, "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
