"""Speed of lexicon axes of 100 patterns, against the 5 MB/s target.

    python benchmarks/bench_lexicon.py

Over Grimm's tales (../shared/data, or MULTIGRID_SHARED_DATA), header and
licence cut. Each variant is a lexicon of 60 common fairy-tale words and 40
affix regexes (/\\w+ness/, /un\\w+/, ...):

    whole-word              whole_word, priority (the word-by-word fast path)
    whole-word, any case    the same with case=insensitive
    substring               no whole_word: matches anywhere inside words
    substring, longest      the same with overlap=longest (POSIX matching per word)
    general path            substring, plus one pattern that spans words
                            ("once upon a time"): that one is matched over the
                            text, the other 99 word by word, and the two merged
    general, crossing       the same with /\\w+[,;]/ instead (a word and the comma
                            after it): its matches overlap word matches at every
                            comma, so the merge does real work (and the pattern
                            itself costs a pass of \\w+ backtracking over the text)

Every compile is of a fresh document (nothing memoised, word segmentation
included). "cold" compiles with a freshly checked spec, whose word cache is
empty; "warm" with a spec that has compiled the text once already, as in a
corpus compiled document after document, where the distinct words soon
repeat (every variant: the general path caches its word-by-word part too). Times are the best of five, on the text once and repeated four
times (a bigger text with the same words, so per-distinct-word work weighs
less). The shared word segmentation (axes.base.word_runs), which a spec pays
once for all its word-level axes, is timed on its own too, and so is the
crossing pattern alone.
MB = 10^6 bytes of UTF-8 text.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MULTIGRID_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from axes.base import Document, word_runs  # noqa: E402
from grid_dsl import compile_text, loads_spec  # noqa: E402

TARGET_MB_S = 5.0
REPEATS = 5  # each time is the best of this many runs
WORDS = """king queen prince princess castle forest witch wolf giant dwarf fox bird tree gold silver
    daughter son mother father wife husband child children brother sister maiden huntsman miller
    tailor soldier fisherman cook servant horse cat dog bear hare goose duck frog well water fire
    bread wine apple ring crown sword door window house bed night morning day year heart moon""".split()
AFFIXES = [r"\w+ness", r"\w+less", r"\w+ful", r"\w+ing", r"\w+ed", r"\w+ly", r"\w+er", r"\w+est", r"\w+tion",
           r"\w+ment", r"\w+able", r"\w+ous", r"\w+ish", r"\w+ward", r"\w+hood", r"\w+ship", r"\w+dom", r"\w+self",
           r"\w+ance", r"\w+ence", r"un\w+", r"re\w+", r"dis\w+", r"mis\w+", r"over\w+", r"under\w+", r"out\w+",
           r"fore\w+", r"with\w+", r"be\w+", r"a[a-z]+", r"in\w+", r"im\w+", r"pre\w+", r"de\w+", r"en\w+",
           r"up\w+", r"non\w+", r"sub\w+", r"inter\w+"]
assert len(WORDS) == 60 and len(AFFIXES) == 40


def lexicon(options: str, extra: str = "") -> str:
    """A 100-pattern lexicon spec: each word its own label, each affix too."""
    lines = [f'    "{word}" -> {word.upper()}' for word in WORDS]
    lines += [f"    /{affix}/ -> AFFIX{i}" for i, affix in enumerate(AFFIXES)]
    if extra:  # replaces the last affix, keeping 100 patterns
        lines[-1] = extra
    return f"lexicon lex ({options}) {{\n" + "\n".join(lines) + "\n}\n"


VARIANTS = (
    ("whole-word", lexicon("whole_word")),
    ("whole-word, any case", lexicon("whole_word, case=insensitive")),
    ("substring", lexicon("overlap=priority")),
    ("substring, longest", lexicon("overlap=longest")),
    ("general path", lexicon("overlap=priority", extra='    "once upon a time" -> ONCE')),
    ("general, crossing", lexicon("overlap=priority", extra="    /\\w+[,;]/ -> CLAUSE")),
)
# The crossing pattern's own pass over the text, as a lexicon of its own: a
# floor for "general, crossing", as word_runs is for the others.
CROSSING_ALONE = "lexicon lex {\n    /\\w+[,;]/ -> CLAUSE\n}\n"


def grimm() -> str:
    raw = (SHARED / "corpora" / "grimms_fairy_tales.txt").read_text(encoding="utf-8")
    text = raw.lstrip("\ufeff").replace("\r\n", "\n")
    start = text.index("\n", text.index("*** START")) + 1
    return text[start : text.index("*** END")]


def _best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        best = min(best, fn())
    return best


def _compile(plan, text: str) -> float:
    t0 = time.perf_counter()
    compile_text(plan, text)  # a fresh document: nothing memoised
    return time.perf_counter() - t0


def _word_runs(text: str) -> float:
    doc = Document(text)
    t0 = time.perf_counter()
    word_runs(doc)
    return time.perf_counter() - t0


def run(sizes=(1, 4), repeats: int = REPEATS) -> list[dict]:
    """[{name, value (MB/s), target (MB/s or None), ratio (value / target)}]:
    per text size (Grimm repeated that many times), the shared word
    segmentation alone, then each variant cold (a new plan: empty word
    cache) and warm (the same plan again: the steady state of a corpus
    compiled document by document); each time the best of `repeats`."""
    results = []
    base = grimm()
    for times in sizes:
        text = base * times
        megabytes = len(text.encode("utf-8")) / 1e6

        def record(name: str, seconds: float, target: float | None = TARGET_MB_S) -> None:
            speed = megabytes / seconds
            results.append({"name": f"Grimm x{times}: {name}", "value": speed, "target": target,
                            "ratio": speed / target if target else None})

        record("word_runs alone", _best_of(repeats, lambda: _word_runs(text)), target=None)
        alone = loads_spec(CROSSING_ALONE)
        record("crossing pattern alone", _best_of(repeats, lambda: _compile(alone, text)), target=None)
        for name, spec in VARIANTS:
            record(f"{name}, cold", _best_of(repeats, lambda: _compile(loads_spec(spec), text)))
            plan = loads_spec(spec)
            _compile(plan, text)
            record(f"{name}, warm", _best_of(repeats, lambda: _compile(plan, text)))
    return results


def main() -> None:
    text = grimm()
    print(f"Grimm's tales: {len(text.encode('utf-8')) / 1e6:.2f} MB; lexicons of {len(WORDS) + len(AFFIXES)} patterns")
    for r in run():
        verdict = ""
        if r["target"]:
            verdict = f"{r['ratio']:5.2f}x target ({'ok' if r['ratio'] >= 1 else 'MISSED'})"
        print(f"{r['name']:38s} {r['value']:7.2f} MB/s  {verdict}")


if __name__ == "__main__":
    main()
