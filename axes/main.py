"""The main axis: the sequence the model reads and predicts.

Characters (default) or UTF-8 bytes, after optional normalisation. Because
normalisation can change offsets, `prepare` also returns a map from offsets in
the raw text to offsets in the normalised text, used to align annotations.
"""

from __future__ import annotations

import unicodedata

import attrs
import numpy as np
import regex

from grid_dsl.language.nodes import MainDecl

from axes.base import builds


@attrs.frozen
class MainAxis:
    unit: str = "chars"  # or "bytes"
    normalize: str = "none"  # none | nfc | nfkc
    newlines: str = "keep"  # keep | lf (CRLF and CR become LF)
    lowercase: bool = False

    def prepare(self, raw: str) -> tuple[str, np.ndarray | None]:
        """The normalised text and a raw->normalised offset map (None when
        the text is unchanged), of length len(raw) + 1."""
        text, offsets = raw, None
        if self.newlines == "lf" and "\r" in text:
            text, step = _newlines_to_lf(text)
            offsets = step
        if self.normalize != "none":
            form = self.normalize.upper()
            if not unicodedata.is_normalized(form, text):
                text, step = _per_cluster(text, lambda s: unicodedata.normalize(form, s))
                offsets = step if offsets is None else step[offsets]
        if self.lowercase:
            lowered = text.lower()
            if len(lowered) == len(text):  # lower() never merges characters
                text = lowered
            else:
                text, step = _per_cluster(text, str.lower, pattern=r"(?s).")
                offsets = step if offsets is None else step[offsets]
        return text, offsets

    def ids(self, text: str) -> np.ndarray:
        """Main stream: code points (uint32) for chars, bytes (uint8) for bytes."""
        if self.unit == "bytes":
            return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")

    def to_units(self, char_ids: np.ndarray, codes: np.ndarray, causal: bool) -> np.ndarray:
        """Align a per-character stream with the main units. In byte mode a
        character's label sits on all its bytes; for a causal axis only on its
        last byte (the earlier bytes keep the previous character's label), so
        no byte sees a label that depends on bytes after it."""
        if self.unit == "chars":
            return char_ids
        lengths = 1 + (codes >= 0x80).astype(np.int64) + (codes >= 0x800) + (codes >= 0x10000)
        source = np.repeat(np.arange(len(char_ids)), lengths)
        if causal:
            last = np.zeros(len(source), dtype=bool)
            last[np.cumsum(lengths) - 1] = True
            source = np.where(last, source, source - 1)
        out = np.zeros(len(source), dtype=char_ids.dtype)
        ok = source >= 0
        out[ok] = char_ids[source[ok]]
        return out


def _newlines_to_lf(text: str) -> tuple[str, np.ndarray]:
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    dropped = np.zeros(len(codes) + 1, dtype=np.int64)
    dropped[1:] = np.cumsum((codes == 13) & (np.append(codes[1:], 0) == 10))
    offsets = np.arange(len(codes) + 1) - dropped
    return text.replace("\r\n", "\n").replace("\r", "\n"), offsets


def _per_cluster(text: str, fn, pattern: str = r"\X") -> tuple[str, np.ndarray]:
    """Apply fn to each grapheme cluster (normalisation never crosses one),
    mapping each raw offset to the start of its cluster's output."""
    pieces = regex.findall(pattern, text)
    out = [fn(p) for p in pieces]
    raw_len = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    new_len = np.fromiter((len(p) for p in out), dtype=np.int64, count=len(out))
    new_start = np.concatenate([[0], np.cumsum(new_len)])
    offsets = np.append(np.repeat(new_start[:-1], raw_len), new_start[-1])
    return "".join(out), offsets


@builds(MainDecl)
def build_main(node: MainDecl, ctx) -> MainAxis | None:
    if node.unit not in ("chars", "bytes"):
        ctx.error(node.loc, f"unknown main unit {node.unit!r}", "write `main chars` or `main bytes`")
        return None
    opts = ctx.options(
        node.options,
        {
            "normalize": ctx.opt("name", "none", choices=("none", "nfc", "nfkc")),
            "newlines": ctx.opt("name", "keep", choices=("keep", "lf")),
            "lowercase": ctx.opt("flag", False),
        },
    )
    if opts is None:
        return None
    return MainAxis(node.unit, opts["normalize"], opts["newlines"], opts["lowercase"])
