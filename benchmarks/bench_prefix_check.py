"""What the compile-time prefix check costs: compiling Grimm with and without it.

    python benchmarks/bench_prefix_check.py             # best of 3 each, alternating
    python benchmarks/bench_prefix_check.py --budget 1  # a larger check (more cuts)

Grimm's tales (../shared/data, or MULTIGRID_SHARED_DATA) compiled with
examples/fairy_tales.axes (needs NLTK_DATA; the benchmark falls back to
grid_dsl/data/demo.axes, and says so, when it is missing), with one worker, with
the check (the default budget, or --budget) and without it (the check's
planning replaced by "nothing to check": the baseline only a benchmark may
take). Runs alternate, best of REPEATS each; a fresh plan for every run, so
no run reuses another's lexicon caches. Target: the check adds <= 25%
(ratio <= 1.25). Prints a row per figure: name, value, unit, ratio, target.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MULTIGRID_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MULTIGRID_NO_DOWNLOAD", "1")
if (SHARED / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))

GRIMM = SHARED / "corpora" / "grimms_fairy_tales.txt"
FAIRY_SPEC = ROOT / "examples" / "fairy_tales.axes"
DEMO_SPEC = ROOT / "grid_dsl" / "data" / "demo.axes"
TARGET = 1.25
REPEATS = 3


def spec_path() -> Path:
    from grid_dsl.data.checker import load_spec
    from grid_dsl.language.diagnostics import SpecError

    try:
        load_spec(FAIRY_SPEC)
        return FAIRY_SPEC
    except SpecError:
        print(f"note: {FAIRY_SPEC.name} needs NLTK data; measuring {DEMO_SPEC.name} instead", file=sys.stderr)
        return DEMO_SPEC


def compile_once(spec: Path, checked: bool, budget: float, quarter: bool) -> tuple[float, dict | None]:
    from grid_dsl.data import build
    from grid_dsl.data.checker import load_spec
    from grid_dsl.data.corpora import open_corpus

    corpus = open_corpus(str(GRIMM))
    if quarter:
        from grid_dsl.data.corpora import Corpus

        class Quarter(Corpus):  # --quick: the first quarter of the tales
            name = corpus.name + " (first quarter)"

            def documents(self):
                docs = list(corpus.documents())
                return iter(docs[: max(1, len(docs) // 4)])

            def fingerprint(self):
                return corpus.fingerprint() + "-quarter"

        corpus = Quarter()
    plan_check = build.prefix_check.plan_corpus_check
    if not checked:
        build.prefix_check.plan_corpus_check = lambda *args, **kwargs: None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plan = load_spec(spec)
            started = time.perf_counter()
            summary = build.compile_corpus(plan, corpus, Path(tmp) / "ds", check_budget=budget)
            return time.perf_counter() - started, summary.manifest.get("prefix_check")
    finally:
        build.prefix_check.plan_corpus_check = plan_check


def rows(repeats: int = REPEATS, budget: float | None = None, quick: bool = False) -> list[dict]:
    from grid_dsl.data.prefix_check import DEFAULT_BUDGET

    budget = DEFAULT_BUDGET if budget is None else budget
    spec = spec_path()
    compile_once(spec, False, budget, quick)  # warm-up: NLTK models, the regex cache
    times = {True: [], False: []}
    check = None
    for _ in range(repeats):
        for checked in (False, True):
            seconds, result = compile_once(spec, checked, budget, quick)
            times[checked].append(seconds)
            check = result or check
    without, with_check = min(times[False]), min(times[True])
    what = f"Grimm{' (quarter)' if quick else ''}, {spec.name}"
    return [
        {"name": f"compile {what}, no prefix check", "value": without, "unit": "s", "ratio": None, "target": None},
        {"name": f"compile {what}, prefix check (budget {budget:g}: {check['cuts']} cuts in "
                 f"{check['documents']} documents)", "value": with_check, "unit": "s",
         "ratio": with_check / without, "target": TARGET if budget == DEFAULT_BUDGET else None},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=None, help="--check-budget of the checked compile (the default)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    if not GRIMM.is_file():
        print(f"no corpus at {GRIMM}: set MULTIGRID_SHARED_DATA", file=sys.stderr)
        return 2
    for r in rows(args.repeats, args.budget):
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else ""
        target = f"target <= {r['target']:.2f}x" if r["target"] else ""
        print(f"{r['name']:<80} {r['value']:8.2f} {r['unit']}  {ratio:>6}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
