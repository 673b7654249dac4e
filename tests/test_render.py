"""Terminal and HTML views of a grid: alignment, wrapping, colour, bytes mode, escaping."""

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl import compile_text, loads_spec
from grid_dsl.data.render import render_html, render_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SPEC = "group w = words (label=W)\ngroup t = tokens (label=TOKEN)\nposition p = w (max=3)\nlag l = w after t"


def cells(line: str) -> int:
    """Terminal cells a line takes: wide characters 2, nonspacing and enclosing
    marks 0 (as wcwidth counts them: a vowel sign such as U+0941 has combining
    class 0 but takes no cell)."""
    line = ANSI.sub("", line)
    return sum(
        0 if unicodedata.category(c) in ("Mn", "Me") else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in line
    )


def blocks(rendered: str) -> list[list[str]]:
    return [block.split("\n") for block in rendered.split("\n\n")]


def test_rows_label_each_run_from_its_first_character():
    grid = compile_text(loads_spec(SPEC), "Once upon a time")
    assert render_text(grid, width=80).split("\n") == [
        "text Once upon a time",
        "w    W··· W··· W W···",
        "t    TOKE TOKE T TOKE",
        "p    0123 0123 0 0123",  # "3+" cut to its run
        "l        W···········",  # one run: equal labels merge
    ]


def test_axes_can_be_chosen_and_ordered():
    grid = compile_text(loads_spec(SPEC), "ab cd")
    assert render_text(grid, axes=["p", "w"]).split("\n") == ["text ab cd", "p    01 01", "w    W· W·"]
    with pytest.raises(ValueError, match="unknown axis 'ww'; did you mean 'w'"):
        render_text(grid, axes=["ww"])


def test_control_characters_are_one_visible_cell():
    grid = compile_text(loads_spec(SPEC), "a\tb\nc\r\x00d")
    text_row, w_row = render_text(grid, axes=["w"]).split("\n")
    assert text_row == "text a→b⏎c␍␀d"
    assert w_row == "w    W W W  W"


TRICKY = "Tab\there, e\u0301t\u00e9 \u738b\u69d8 \U0001F600 \u200b zero\nnext line \x07 bell"


@pytest.mark.parametrize("width", [20, 27, 41, 80])
def test_every_row_of_a_block_has_the_same_width(width):
    grid = compile_text(loads_spec(SPEC), TRICKY * 3)
    for block in blocks(render_text(grid, width=width)):
        widths = {cells(line) for line in block}
        assert len(widths) == 1, block
        assert widths.pop() <= width
        assert [line.split(" ", 1)[0] for line in block] == ["text", "w", "t", "p", "l"]


def test_wrapping_keeps_every_character_once():
    text = "The quick brown fox jumps over the lazy dog. " * 4
    grid = compile_text(loads_spec(SPEC), text)
    parts = blocks(render_text(grid, width=30))
    assert len(parts) == -(-len(text) // 25)  # 25 columns of text beside a gutter of 5
    assert "".join(block[0][5:] for block in parts) == text


def test_a_run_split_by_wrapping_shows_its_label_again():
    grid = compile_text(loads_spec("group w = words (label=LONGWORD)"), "abcdefghijklmnopqrstuvwxyz")
    first, second = blocks(render_text(grid, width=20))
    assert first[1] == "w    LONGWORD·······" and second[1].startswith("w    LONGWORD")


def test_colour_wraps_labelled_runs_and_changes_nothing_else():
    grid = compile_text(loads_spec(SPEC), TRICKY)
    plain = render_text(grid, width=40)
    coloured = render_text(grid, width=40, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain
    # the same label always gets the same colour; characters without a label none
    w_row = blocks(coloured)[0][1]
    assert len(set(re.findall(r"48;5;(\d+)m", w_row))) == 1
    assert re.match(r"w    \x1b\[30;48;5;\d+mW··\x1b\[0m\x1b", w_row) is None  # "Tab" then a tab: no colour on it
    assert " \x1b[30;48;5;" in w_row


def test_bytes_grids_render_per_character():
    text = "K\u00f6nig \u738b"
    chars = compile_text(loads_spec(SPEC), text)
    as_bytes = compile_text(loads_spec("main bytes\n" + SPEC), text)
    assert len(as_bytes) == len(text.encode()) and len(chars) == len(text)
    assert render_text(as_bytes) == render_text(chars)


def test_empty_text():
    grid = compile_text(loads_spec(SPEC), "")
    assert render_text(grid).split("\n") == ["text ", "w    ", "t    ", "p    ", "l    "]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60), st.integers(min_value=12, max_value=50))
def test_alignment_on_any_text(text, width):
    grid = compile_text(loads_spec(SPEC), text)
    rendered = render_text(grid, width=width, color=True)
    for block in blocks(rendered):
        assert len({cells(line) for line in block}) == 1


def test_html_is_escaped_with_one_cell_per_character_and_tooltips():
    spec = loads_spec('annotation roles (labels=["<HERO>", "a\\"b&c"])\ngroup w = words')
    text = '<b>Tom & "Jo"</b>\n'
    grid = compile_text(spec, text, {"roles": [(3, 6, "<HERO>"), (9, 13, 'a"b&c')]})
    page = render_html(grid)
    assert grid._repr_html_() == page
    assert "<b>Tom" not in page and "&lt;b&gt;Tom" not in page  # one cell per character, each escaped
    assert "<td title=\"0: U+003C\">&lt;</td>" in page
    assert 'title="roles: &lt;HERO&gt;"' in page and 'title="roles: a&quot;b&amp;c"' in page
    assert "<td title=\"17: U+000A\">⏎</td>" in page
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert [re.match(r"<th>(.*?)</th>", r).group(1) for r in rows] == ["text", "roles", "w"]
    assert all(r.count("<td") == len(text) for r in rows)
    # the label's letters are spread over its run, the rest of the run left empty
    roles = rows[1]
    assert re.findall(r">([^<]*)</td>", roles)[3:7] == ["&lt;", "H", "E", ""]


def test_html_wraps_long_texts_and_cuts_very_long_ones():
    grid = compile_text(loads_spec(SPEC), "word " * 100)
    page = render_html(grid, width=80, max_chars=300)
    assert page.count("<table>") == 4  # 300 characters in blocks of 80
    assert "200 more characters not shown" in page
