"""How quickly the command line answers: `multigrid --help`, `fmt` and `check`.

    python benchmarks/bench_startup.py

Each command runs ROUNDS times in a fresh process (after one unmeasured run
that leaves Python's bytecode cache and Lark's grammar cache warm, as any
second use does); the row is the median wall time. `fmt` and `check` read a
spec without NLTK axes (the axes that load NLTK, scikit-learn and SciPy pay
for them when used). Targets: --help <= 0.3 s, fmt and check <= 0.6 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = 7
SPEC = "group w = words\nlexicon royal (whole_word) { \"king\" | \"queen\" -> ROYAL }\nlag royal_prev = royal after w\n" \
       "position word_pos = w (max=12)\n\nfeed royal_prev as context\nfeed word_pos as context\n"
TARGETS = {"--help": 0.3, "fmt": 0.6, "check": 0.6}


def timed(argv: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def rows(rounds: int = ROUNDS) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cli = [sys.executable, "-m", "model.cli"]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.axes"
        spec.write_text(SPEC, encoding="utf-8")
        for name, args in (("--help", ["--help"]), ("fmt", ["fmt", "--check", str(spec)]), ("check", ["check", str(spec)])):
            timed(cli + args, env)  # warm the caches
            median = statistics.median(timed(cli + args, env) for _ in range(rounds))
            out.append({"name": f"multigrid {' '.join(args[:1] if name == '--help' else args[:1] + ['SPEC'])}",
                        "value": median, "unit": "s", "target": TARGETS[name]})
    return out


def main() -> int:
    for r in rows():
        verdict = "ok" if r["value"] <= r["target"] else "MISSED"
        print(f"{r['name']:<28} {r['value']:.3f} s  target <= {r['target']} s  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
