"""A fuzzer for tools built on specs: valid specs, broken at random.

    from grid_dsl.testing import mutated_specs

    @given(mutated_specs())
    def test_my_tool_never_crashes(data: bytes):
        ...   # accept the spec, or refuse it with a located error

`mutated_specs(seeds)` draws a valid spec (one of `seeds`, texts; by default
the specs of `specs()`), then applies one to three mutations, and gives the
result as bytes (some mutations are not UTF-8). The mutations are those a
hand, an editor or a script makes:

    delete      a token removed            duplicate   a token written twice
    junk        punctuation or a word inserted at a random place
    truncate    the text cut anywhere      bytes       bytes that are not UTF-8
    number      a number replaced by a huge one (400 digits), a negative or a float
    regex       a pattern broken (/[/), or made catastrophic (/(a+)+$/)
    reference   an axis name replaced by one nobody declares, or by a name
                declared later that reads the first (a cycle)
    option      an option added with a bad key or value
"""

from __future__ import annotations

import regex
from hypothesis import strategies as st

TOKEN = regex.compile(r'"(?:[^"\\\n]|\\.)*"|/(?:[^/\\\n]|\\.)+/[imsx]*|\w+|\S')
NUMBER = regex.compile(r"(?<![\w.])\d+(?:\.\d+)?")
PATTERN = regex.compile(r"/(?:[^/\\\n]|\\.)+/[imsx]*")
NAME_AFTER = regex.compile(r"(?:=|over|after|within|feed|\*)\s+([a-z_]\w*)")
DECLARED = regex.compile(r"^\s*\w+\s+([a-z_]\w*)\s*=", regex.M)
OPTIONS = regex.compile(r"\(([^()\n]*)\)")

JUNK = ("{", "}", "(", ")", "=", "->", "|", '"', "/", ",", "feed", "when", "group", "@", "\\", "#", "..", "[", "]")
HUGE = ("9" * 400, "-1", "0", "1e999", "18446744073709551617", "0.5", "100000000000")
BAD_PATTERNS = ("/[/", "/(a+)+$/", "/(?<=x*)y/", "/\\p{Nope}/", "/(a|a)*b/", "/((/")
BAD_OPTIONS = ("bogus=1", "max=-5", "max=" + "9" * 60, "weight=nan", "encoding=sideways", "case=", "labels=[", "dim=0")
BAD_BYTES = (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xfe\xff", b"\x80abc")


def _tokens(text: str) -> list[regex.Match]:
    return list(TOKEN.finditer(text))


@st.composite
def _mutate(draw, text: str) -> bytes:
    """One mutation of `text` (as bytes)."""
    kind = draw(st.sampled_from(("delete", "duplicate", "junk", "truncate", "bytes", "number", "regex",
                                 "reference", "cycle", "option")))
    tokens = _tokens(text)
    if kind in ("delete", "duplicate") and tokens:
        m = draw(st.sampled_from(tokens))
        middle = "" if kind == "delete" else m.group() + " " + m.group()
        return (text[: m.start()] + middle + text[m.end():]).encode()
    if kind == "junk":
        at = draw(st.integers(0, len(text)))
        return (text[:at] + " " + draw(st.sampled_from(JUNK)) + " " + text[at:]).encode()
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))].encode()
    if kind == "bytes":
        data = text.encode()
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
    swaps = {"number": (NUMBER, HUGE), "regex": (PATTERN, BAD_PATTERNS)}
    if kind in swaps and swaps[kind][0].search(text):
        found, choices = swaps[kind]
        m = draw(st.sampled_from(list(found.finditer(text))))
        return (text[: m.start()] + draw(st.sampled_from(choices)) + text[m.end():]).encode()
    names = [m for m in NAME_AFTER.finditer(text)]
    if kind == "reference" and names:
        m = draw(st.sampled_from(names))
        return (text[: m.start(1)] + draw(st.sampled_from(("nowhere", "x_undeclared", "feed"))) + text[m.end(1):]).encode()
    declared = DECLARED.findall(text)
    if kind == "cycle" and declared:
        first = draw(st.sampled_from(declared))
        return (text + f"\nlag {first}_loop = {first}_back by 1 chars\nlag {first}_back = {first}_loop by 1 chars\n").encode()
    options = list(OPTIONS.finditer(text))
    if kind == "option" and options:
        m = draw(st.sampled_from(options))
        inside = m.group(1) + (", " if m.group(1).strip() else "") + draw(st.sampled_from(BAD_OPTIONS))
        return (text[: m.start(1)] + inside + text[m.end(1):]).encode()
    return (text + "\n" + draw(st.sampled_from(JUNK))).encode()  # nothing to aim at: junk at the end


def mutated_specs(seeds: list[str] | None = None, max_mutations: int = 3) -> st.SearchStrategy[bytes]:
    """Valid specs with 1..max_mutations random mutations, as bytes (see the module docstring)."""
    from grid_dsl.testing.strategies import specs

    base = st.sampled_from(seeds) if seeds else specs()

    @st.composite
    def build(draw) -> bytes:
        data = draw(base).encode()
        for _ in range(draw(st.integers(1, max_mutations))):
            data = draw(_mutate(data.decode("utf-8", "replace")))
        return data

    return build()
