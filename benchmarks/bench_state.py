"""Speed of the long-range operators over Grimm, against the 20 MB/s target.

    python benchmarks/bench_state.py

Over Grimm's tales (../shared/data, or MULTIGRID_SHARED_DATA), one document.
Each operator is timed alone: the axes it reads are compiled once and handed
to it, so a row is the operator's own pass (axes/state.py, axes/nesting.py),
not the grouping or lexicon under it. The time is the best of REPEATS.

    latest, first     over a causal lexicon of names, within lines
    count, since      over words (spans), and since from=end
    count of runs     over a rules axis without spans (label runs as spans)
    nesting           quotes and brackets: three pairs and a toggling quote

MB = 10^6 bytes of UTF-8 text. Prints a row per operator: name, MB/s, target.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MULTIGRID_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

GRIMM = SHARED / "corpora" / "grimms_fairy_tales.txt"
TARGET_MB_S = 20.0
REPEATS = 5
SPEC = r'''
group words = words
group lines = lines
lexicon who (case=insensitive, whole_word, encoding=after) {
    "king" | "queen" | "prince" | "princess" -> ROYAL
    "witch" | "wolf" | "giant" -> VILLAIN
    "hans" | "gretel" | "hansel" -> CHILD
}
rules caps { when char is upper -> UP }
latest latest_who = who within lines
first first_who = who
count word_no = words (max=4096, scale=log)
since since_word = words (scale=log)
since since_line_end = lines (from=end)
count cap_runs = caps (max=64)
nesting quoted {
    "(" .. ")"
    "[" .. "]"
    "«" .. "»"
    "\""
}
'''
OPERATORS = ("latest_who", "first_who", "word_no", "since_word", "since_line_end", "cap_runs", "quoted")


def grimm() -> str:
    from grid_dsl.data.gutenberg import clean

    return clean(GRIMM.read_text(encoding="utf-8"))


def rows(text: str | None = None, repeats: int = REPEATS) -> list[dict]:
    from axes.base import Document
    from grid_dsl import loads_spec
    from grid_dsl.data.compiler import compile_text

    text = grimm() if text is None else text
    megabytes = len(text.encode("utf-8")) / 1e6
    plan = loads_spec(SPEC, "bench_state.axes")
    grid = compile_text(plan, text)
    streams = grid.char_streams  # every axis once: the inputs each operator reads
    out = []
    for name in OPERATORS:
        axis = plan.axis(name)
        inputs = {dep: streams[dep] for dep in axis.inputs}
        best = float("inf")
        for _ in range(repeats):
            doc = Document(text)  # a fresh document: nothing memoised
            start = time.perf_counter()
            axis.compute(doc, inputs)
            best = min(best, time.perf_counter() - start)
        out.append({"name": f"{axis.kind} {name}", "value": megabytes / best, "unit": "MB/s", "target": TARGET_MB_S})
    return out


def main() -> None:
    if not GRIMM.is_file():
        sys.exit(f"needs {GRIMM} (set MULTIGRID_SHARED_DATA)")
    print(f"{'operator':<28} {'MB/s':>8} {'target':>8}")
    for r in rows():
        print(f"{r['name']:<28} {r['value']:>8.1f} {'>= ' + format(r['target'], 'g'):>8}  "
              f"{'ok' if r['value'] >= r['target'] else 'MISS'}")


if __name__ == "__main__":
    main()
