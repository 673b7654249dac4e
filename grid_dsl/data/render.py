"""Grids as text for a terminal and as HTML for a notebook.

The terminal view writes the text on one row and each axis on a row beneath
it, column for column:

    text  The king and the queen.⏎
    words The· king and the queen
    royal     ROYA        ROYAL

Each run of equal labels shows its label from its first character,
truncated to the run and filled with "·"; characters without a label are
blank. Every character takes the same cells on every row: control
characters become one-cell symbols (⏎ for a newline, → for a tab), combining
marks are shown on a dotted circle, and wide (East Asian) characters take two
cells on every row. Grids with `main bytes` are shown per character (their
character-level streams), since a byte is not something a terminal can show.
"""

from __future__ import annotations

import functools
import html
import unicodedata
import zlib
from typing import Sequence

import numpy as np

from grid_dsl.language.diagnostics import did_you_mean

FILL = "·"
_SPECIAL = {"\n": "⏎", "\t": "→", "\r": "␍", "\x7f": "␡", "\u2028": "⏎", "\u2029": "¶"}
# Light 256-colour backgrounds that keep black text readable.
_PALETTE = (
    152, 153, 158, 159, 186, 187, 189, 193, 194, 195, 217, 218, 219, 223, 224, 225,
    229, 230, 181, 182, 183, 114, 115, 116, 117, 150, 151, 180, 146, 147, 110, 111,
    144, 145, 179, 221, 222, 215, 216, 210, 211, 212, 177, 176, 141, 140, 105, 104,
)
_RESET = "\x1b[0m"


@functools.lru_cache(maxsize=4096)
def visible(char: str) -> tuple[str, int]:
    """How one character is shown, and how many cells (1 or 2) it takes."""
    if char in _SPECIAL:
        return _SPECIAL[char], 1
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code), 1  # the Control Pictures block: ␀ … ␟
    category = unicodedata.category(char)
    if category in ("Cc", "Cs", "Cn"):
        return "\ufffd", 1
    if category == "Cf":  # zero-width formatting: soft hyphen, joiners, BOM
        return "¤", 1
    if category in ("Mn", "Me"):  # a combining mark alone takes no cell
        return "◌" + char, 1
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return char, 2
    return char, 1


def _fit(label: str, cells: int) -> str:
    """`label` cut to `cells` cells, the rest filled with FILL."""
    out, used = [], 0
    for char in label:
        shown, width = visible(char)
        if used + width > cells:
            break
        out.append(shown)
        used += width
    return "".join(out) + FILL * (cells - used)


def label_color(label: str) -> int:
    """A 256-colour background for a label, the same in every run."""
    return _PALETTE[zlib.crc32(label.encode("utf-8", "surrogatepass")) % len(_PALETTE)]


def _resolve_axes(grid, axes: Sequence[str] | None) -> list[str]:
    if axes is None:
        return list(grid.names)
    for name in axes:
        if name not in grid.names:
            hint = did_you_mean(name, grid.names)
            raise ValueError(f"unknown axis {name!r}" + (f"; {hint}" if hint else ""))
    return list(axes)


def _cells(text: str) -> tuple[list[str], np.ndarray]:
    """Each character as shown, and its width in cells."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    uniques, inverse = np.unique(codes, return_inverse=True)
    shown = [visible(chr(c)) for c in uniques.tolist()]
    widths = np.array([w for _, w in shown], dtype=np.int64)[inverse] if len(codes) else np.zeros(0, np.int64)
    return [shown[i][0] for i in inverse.tolist()], widths


def _blocks(widths: np.ndarray, room: int) -> list[tuple[int, int]]:
    """Split characters into [start, end) blocks of at most `room` cells."""
    ends = np.cumsum(widths)
    blocks, start, used = [], 0, 0
    while start < len(widths):
        end = max(int(np.searchsorted(ends, used + room, side="right")), start + 1)
        blocks.append((start, end))
        start, used = end, int(ends[end - 1])
    return blocks or [(0, 0)]


def _axis_row(ids: np.ndarray, vocab: Sequence[str], widths: np.ndarray, color: bool) -> str:
    """One block of an axis: a label per run of equal ids."""
    if len(ids) == 0:
        return ""
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    run_cells = np.add.reduceat(widths, starts)
    parts = []
    for start, cells in zip(starts.tolist(), run_cells.tolist()):
        label_id = int(ids[start])
        if label_id == 0:
            parts.append(" " * cells)
            continue
        label = vocab[label_id]
        piece = _fit(label, cells)
        parts.append(f"\x1b[30;48;5;{label_color(label)}m{piece}{_RESET}" if color else piece)
    return "".join(parts)


def render_text(grid, axes: Sequence[str] | None = None, width: int = 80, color: bool = False) -> str:
    """The text with one aligned row per axis, wrapped into blocks of `width`
    columns (row names included). With `color`, each labelled run gets an
    ANSI background colour; without the escape codes the output is the
    same as with color=False."""
    names = _resolve_axes(grid, axes)
    gutter = max(len(n) for n in ["text", *names]) + 1
    room = max(width - gutter, 8)
    shown, widths = _cells(grid.text)
    rows_of = {name: (grid.char_streams[name].ids, grid.vocab(name)) for name in names}
    out = []
    for start, end in _blocks(widths, room):
        block = ["text".ljust(gutter) + "".join(shown[start:end])]
        for name in names:
            ids, vocab = rows_of[name]
            block.append(name.ljust(gutter) + _axis_row(ids[start:end], vocab, widths[start:end], color))
        out.append("\n".join(block))
    return "\n\n".join(out)


# ---------------------------------------------------------------------- HTML

_CSS = (
    "<style>.multigrid table{border-collapse:collapse;font-family:monospace;font-size:12px;"
    "line-height:1.3;margin-bottom:6px;border:none}"
    ".multigrid td,.multigrid th{padding:0 1px;border:none;text-align:center;white-space:pre}"
    ".multigrid th{text-align:left;padding-right:8px}</style>"
)


def _html_color(label: str) -> str:
    hue = zlib.crc32(label.encode("utf-8", "surrogatepass")) % 360
    return f"hsl({hue},70%,85%)"


def render_html(grid, axes: Sequence[str] | None = None, width: int = 80, max_chars: int = 4000) -> str:
    """A self-contained HTML view: one table per block of `width`
    characters, a row per axis, one cell per character coloured by its
    label, the label in a tooltip. Long texts are cut at `max_chars`."""
    names = _resolve_axes(grid, axes)
    text = grid.text[:max_chars]
    shown, _ = _cells(text)
    tables = []
    for start in range(0, max(len(text), 1), width):
        end = min(start + width, len(text))
        rows = [_html_text_row(text, shown, start, end)]
        for name in names:
            rows.append(_html_axis_row(name, grid.char_streams[name].ids[start:end], grid.vocab(name)))
        tables.append("<table>" + "".join(rows) + "</table>")
    note = ""
    if len(grid.text) > max_chars:
        note = f"<div><i>… {len(grid.text) - max_chars:,} more characters not shown</i></div>"
    head = html.escape(repr(grid))
    return f'<div class="multigrid">{_CSS}<div><b>{head}</b></div>{"".join(tables)}{note}</div>'


def _html_name(name: str) -> str:
    return f"<th>{html.escape(name)}</th>"


def _html_text_row(text: str, shown: list[str], start: int, end: int) -> str:
    cells = [
        f'<td title="{i}: U+{ord(text[i]):04X}">{html.escape(shown[i])}</td>'
        for i in range(start, end)
    ]
    return "<tr>" + _html_name("text") + "".join(cells) + "</tr>"


def _html_axis_row(name: str, ids: np.ndarray, vocab: Sequence[str]) -> str:
    """One cell per character; the label's letters spread over its run."""
    cells = []
    run_start = 0
    for i, label_id in enumerate(ids.tolist()):
        if i == 0 or label_id != ids[i - 1]:
            run_start = i
        if label_id == 0:
            cells.append("<td></td>")
            continue
        label = vocab[label_id]
        offset = i - run_start
        letter = visible(label[offset])[0] if offset < len(label) else ""
        cells.append(
            f'<td style="background:{_html_color(label)}" title="{html.escape(name)}: {html.escape(label)}">'
            f"{html.escape(letter)}</td>"
        )
    return "<tr>" + _html_name(name) + "".join(cells) + "</tr>"
