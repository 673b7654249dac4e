"""What a corpus is: an ordered, re-iterable collection of documents, each a
text with optional annotation layers. Every source of text (files, folders,
downloads in corpora.py; the synthetic tales) yields these."""

from __future__ import annotations

import abc
from typing import Iterator

import attrs

Layers = dict[str, list[tuple[int, int, str]]]  # layer -> [(start, end, label), ...]


@attrs.frozen
class SourceDocument:
    name: str
    text: str
    annotations: Layers | None = None


class Corpus(abc.ABC):
    """An ordered, re-iterable collection of documents."""

    name: str

    @abc.abstractmethod
    def documents(self) -> Iterator[SourceDocument]:
        """The documents in a fixed order (iterable again from the start)."""

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """A hex digest that changes whenever any document's text or
        annotations change (cheap where the source allows: sizes and mtimes
        are not enough, content hashes are)."""
