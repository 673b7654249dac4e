"""Speed of the POS axis against its floor, nltk.pos_tag_sents.

    python benchmarks/bench_pos.py

Over Grimm's tales (../shared/data, or MULTIGRID_SHARED_DATA): first
`nltk.pos_tag_sents` alone on the text's sentences, already split by punkt
and tokenised (the floor: the tagger NLTK users call), then compiling each
POS axis over the raw text, which does its own sentence splitting,
tokenising, offset mapping and painting. Each time is printed with its ratio
to the floor, all measured in this one run. Targets: a POS axis <= 1.25x the
floor; all of examples/fairy_tales.axes (two POS axes, chunks, lexicons,
groups, lags) <= 1.5x.
Loading the tagger's model is done once, before timing, for both sides.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MULTIGRID_SHARED_DATA", ROOT.parent / "shared" / "data"))
if (SHARED / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))
sys.path.insert(0, str(ROOT))

import nltk  # noqa: E402  (after NLTK_DATA is set)

from grid_dsl import compile_text, load_spec, loads_spec  # noqa: E402

SPECS = (  # name, spec, target ratio to the floor
    ("pos penn", "pos p", 1.25),
    ("pos universal", "pos u (tagset=universal)", 1.25),
    ("pos prefix", "pos u (tagset=universal, prefix)", None),
    ("pos + prefix pos", "pos u (tagset=universal)\npos up (tagset=universal, prefix)", 1.5),
    ("all of examples/fairy_tales.axes", ROOT / "examples" / "fairy_tales.axes", 1.5),
)


def grimm() -> str:
    raw = (SHARED / "corpora" / "grimms_fairy_tales.txt").read_text(encoding="utf-8")
    text = raw.lstrip("\ufeff").replace("\r\n", "\n")
    start = text.index("\n", text.index("*** START")) + 1
    return text[start : text.index("*** END")]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(text: str | None = None) -> list[dict]:
    """[{name, value (seconds), target (ratio, or None), ratio}] for the floor
    and each axis, over `text` (default: all of Grimm's tales)."""
    from axes import _nltk
    from axes._perceptron import engine
    from axes._tokens import tokenizer

    text = grimm() if text is None else text
    sentences = [tokenizer().tokenize(text[s:e]) for s, e in _nltk.sentence_spans(text)]
    nltk.pos_tag(["warm", "up"])  # load NLTK's model (shared with the engine)
    engine()
    plans = [(name, load_spec(spec) if isinstance(spec, Path) else loads_spec(spec), target)
             for name, spec, target in SPECS]

    floor = _timed(lambda: nltk.pos_tag_sents(sentences))
    results = [{"name": "nltk.pos_tag_sents (floor)", "value": floor, "target": None, "ratio": 1.0}]
    for name, plan, target in plans:
        seconds = _timed(lambda: compile_text(plan, text))  # a fresh document: nothing memoised
        results.append({"name": name, "value": seconds, "target": target, "ratio": seconds / floor})
    return results


def main() -> None:
    print(f"Grimm's tales, {len(grimm()):,} characters")
    for r in run():
        verdict = ""
        if r["target"]:
            verdict = f"target <= {r['target']}x: {'ok' if r['ratio'] <= r['target'] else 'MISSED'}"
        print(f"{r['name']:34s} {r['value']:7.2f} s  {r['ratio']:5.2f}x floor  {verdict}")


if __name__ == "__main__":
    main()
