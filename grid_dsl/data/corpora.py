"""Corpora: where the documents that a spec is compiled over come from.

Every source gives the same thing: an ordered sequence of `SourceDocument`s
(a name, the raw text, and optional annotation layers in raw-text character
offsets), plus a fingerprint that changes when the content does.

`open_corpus(ref)` turns what a user writes on the command line into a corpus:

    path/to/book.txt        one text file: one document. A Project Gutenberg
                            file is cleaned (header and licence cut) and, where
                            its layout shows them, split into its stories
                            (see grid_dsl.data.gutenberg): Grimm gives 62 documents.
    path/to/folder          every .txt file directly in the folder, one document
                            each, sorted by file name (the layout of the Kaggle
                            fairy-tale collection). Other files, sub-folders and
                            hidden files (".name") are ignored; a Gutenberg file
                            there is cleaned but not split.
    grimm, andersen,        built-in corpora, downloaded once into a cache
    tinyshakespeare         (see grid_dsl.data.download)
    synthetic               the seeded synthetic fairy tales with planted
    synthetic:stories=N,seed=S   structure (grid_dsl.data.synthetic)
    addition:digits=1-10,n=N     algorithmic tasks, one example per line:
    multiplication, dyck         addition, multiplication, Dyck bracket
                                 completion (grid_dsl.data.tasks)

A built-in name wins over a file of the same name in the current folder:
write `./grimm` for the file.

Text files are decoded with `encoding` and `errors` (as in `bytes.decode`:
e.g. encoding="latin-1", or errors="replace" to turn undecodable bytes into
U+FFFD); a leading byte-order mark is dropped. Apart from Gutenberg cleaning
the text is left exactly as it is in the file (CRLF included: the main axis
normalises it).

Annotations: a file `NAME.txt.spans.jsonl` beside `NAME.txt` holds spans for
its documents, in the format of `axes.annotation.read_spans_jsonl`. Its `doc`
is the index of the document in that file (0 for a file that is one document,
the story index for a split Gutenberg collection) or the document's name;
offsets count characters of the document's text as the corpus gives it.

Errors a user can cause raise `UserError` naming the file: a path that does
not exist, an empty file or folder, a folder without .txt files, bytes that
do not decode (with their byte offset), a .txt file that is binary, an
unknown built-in name. Missing paths and empty folders are found when the
corpus is opened; problems inside files when its documents are read (the
fingerprint reads them all).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import attrs

from grid_dsl.data import download, gutenberg, tasks
from grid_dsl.data.documents import Corpus, Layers, SourceDocument
from grid_dsl.language.diagnostics import UserError, did_you_mean

SYNTHETIC = "synthetic"
SYNTHETIC_OPTIONS = ("stories", "seed")
SPANS_SUFFIX = ".spans.jsonl"
MAX_FILE_BYTES = 1_000_000_000  # a single text file, read whole (docs/data.md, "Size")
HASH_CHUNK = 1 << 20  # characters hashed at a time, so a huge text is never copied whole


def open_corpus(ref: str | os.PathLike, *, encoding: str = "utf-8", errors: str = "strict") -> Corpus:
    """The corpus that `ref` names: a .txt file, a folder of .txt files, a
    built-in name, a synthetic corpus or a task (see the module docstring)."""
    _check_codec(encoding, errors)
    ref = os.fspath(ref)
    if not ref.strip():
        raise UserError("no corpus given: name a .txt file, a folder of .txt files, "
                        "a built-in corpus (grimm, andersen, tinyshakespeare) or synthetic")
    if ref == SYNTHETIC or ref.startswith(SYNTHETIC + ":"):
        return _synthetic(ref)
    if tasks.is_task(ref):
        return tasks.task_corpus(ref)
    if ref in download.NAMED:
        return TextFileCorpus(download.fetch(ref), name=ref)
    path = Path(ref).expanduser()
    if path.is_dir():
        return FolderCorpus(path, encoding=encoding, errors=errors)
    if path.is_file():
        return TextFileCorpus(path, encoding=encoding, errors=errors)
    if path.exists():
        raise UserError(f"corpus {path} is neither a file nor a folder")
    raise _not_found(ref, path, builtins=sorted(download.NAMED) + [SYNTHETIC, *tasks.GENERATORS])


def fingerprint_documents(documents: Iterable[SourceDocument]) -> str:
    """SHA-256 over every document's name, text and annotations, in order,
    one document at a time (a corpus is never held in memory whole)."""
    digest = hashlib.sha256(b"multigrid-corpus/1\n")
    for doc in documents:
        annotations = json.dumps(doc.annotations, sort_keys=True, ensure_ascii=False) if doc.annotations else ""
        for part in (doc.name, doc.text, annotations):
            digest.update(b"%d\n" % len(part))  # length first: no two documents hash alike by concatenation
            for i in range(0, len(part), HASH_CHUNK):
                digest.update(part[i:i + HASH_CHUNK].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class TextFileCorpus(Corpus):
    """One text file: one document, or the stories of a Gutenberg collection."""

    def __init__(self, path: str | Path, *, name: str | None = None, encoding: str = "utf-8",
                 errors: str = "strict"):
        self.path = Path(path)
        self.name = name or self.path.stem
        self.encoding, self.errors = encoding, errors
        _check_not_empty(self.path)

    def documents(self) -> Iterator[SourceDocument]:
        text = read_text(self.path, self.encoding, self.errors)
        docs = [SourceDocument(self.path.name, text)]
        if gutenberg.is_gutenberg(text):
            book = _clean_gutenberg(self.path, text)
            stories = gutenberg.split_stories(book)
            docs = [SourceDocument(s.title, s.text) for s in stories] or [SourceDocument(self.path.name, book)]
        yield from _annotate(docs, self.path)

    def fingerprint(self) -> str:
        return fingerprint_documents(self.documents())

    def __repr__(self) -> str:
        return f"TextFileCorpus({str(self.path)!r}, name={self.name!r})"


class FolderCorpus(Corpus):
    """Every .txt file directly in a folder, one document each, by file name."""

    def __init__(self, path: str | Path, *, encoding: str = "utf-8", errors: str = "strict"):
        self.path = Path(path)
        self.name = self.path.resolve().name or str(self.path)
        self.encoding, self.errors = encoding, errors
        try:
            entries = sorted(self.path.iterdir(), key=lambda p: p.name)
        except OSError as err:
            raise UserError(f"cannot list the corpus folder {self.path}: {err.strerror or err}") from None
        visible = [p for p in entries if not p.name.startswith(".")]
        self.files = [p for p in visible if p.suffix.lower() == ".txt" and p.is_file()]
        if not visible:
            raise UserError(f"the corpus folder {self.path} is empty: put one .txt file per document in it")
        if not self.files:
            others = ", ".join(p.name for p in visible[:5]) + (", ..." if len(visible) > 5 else "")
            raise UserError(f"the corpus folder {self.path} has no .txt files (it holds {others}); "
                            "a corpus folder holds one .txt file per document")
        for file in self.files:
            _check_not_empty(file)

    def documents(self) -> Iterator[SourceDocument]:
        for file in self.files:
            text = read_text(file, self.encoding, self.errors)
            if gutenberg.is_gutenberg(text):
                text = _clean_gutenberg(file, text)
            yield from _annotate([SourceDocument(file.name, text)], file)

    def fingerprint(self) -> str:
        return fingerprint_documents(self.documents())

    def __repr__(self) -> str:
        return f"FolderCorpus({str(self.path)!r}, {len(self.files)} files)"


def read_text(path: Path, encoding: str = "utf-8", errors: str = "strict") -> str:
    """A corpus file's text, decoded, without a leading byte-order mark.

    UserError when it cannot be read, is larger than MAX_FILE_BYTES (read
    whole, it would be one document in memory: a folder of files streams),
    does not decode (with the byte offset and line of the first bad byte),
    holds NUL characters (a binary file) or holds no text.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UserError(f"corpus file {path} has {size / 1e9:.1f} GB, more than the {MAX_FILE_BYTES / 1e9:g} GB "
                            "a single file may have (it is read whole, as one document): cut it into a folder of "
                            "files (at chapters or paragraphs), which is read one file at a time")
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read corpus file {path}: {err.strerror or err}") from None
    try:
        text = data.decode(encoding, errors)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise UserError(
            f"{path}: not valid {encoding} text at byte offset {err.start} (line {line}): "
            f"byte {data[err.start]:#04x} ({err.reason}). If the file is in another encoding, open it "
            f"with that one (encoding='latin-1', `--encoding latin-1` on the command line); to replace "
            f"the bad bytes with U+FFFD, use errors='replace' (`--errors replace`)") from None
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        where = data.find(b"\x00")
        where = f"byte offset {where}" if where >= 0 else f"character {nul}"
        raise UserError(f"{path} looks like a binary file, not text (a NUL character at {where}); "
                        "a corpus holds text files only")
    if not re.search(r"\S", text):
        raise UserError(f"corpus file {path} holds only white space: remove it or give it some text")
    return text


# ------------------------------------------------------------------ helpers


def _check_codec(encoding: str, errors: str) -> None:
    try:
        "a".encode(encoding)  # also refuses codecs that are not text encodings (rot13, base64)
    except LookupError:
        raise UserError(f"unknown text encoding '{encoding}' (e.g. utf-8, latin-1, cp1252, utf-16)") from None
    try:
        codecs.lookup_error(errors)
    except LookupError:
        raise UserError(f"unknown errors handler '{errors}': use strict, replace, ignore or "
                        "surrogateescape") from None


def _check_not_empty(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as err:
        raise UserError(f"cannot read corpus file {path}: {err.strerror or err}") from None
    if size == 0:
        raise UserError(f"corpus file {path} is empty: remove it or give it some text")


def _clean_gutenberg(path: Path, text: str) -> str:
    book = gutenberg.clean(text)
    if not book:
        raise UserError(f"{path}: nothing between the Project Gutenberg START and END markers")
    return book


def _annotate(docs: list[SourceDocument], text_path: Path) -> list[SourceDocument]:
    """`docs` with the spans of the `.spans.jsonl` file beside `text_path`, if any."""
    spans_path = text_path.with_name(text_path.name + SPANS_SUFFIX)
    if not spans_path.is_file():
        return docs
    from axes.annotation import read_spans_jsonl  # the axes package imports grid_dsl

    try:
        records = read_spans_jsonl(spans_path)
    except UnicodeDecodeError as err:
        raise UserError(f"annotation file {spans_path} is not UTF-8 ({err.reason})") from None
    except OSError as err:
        raise UserError(f"cannot read annotation file {spans_path}: {err.strerror or err}") from None
    by_name = {doc.name: i for i, doc in enumerate(docs)}
    layers: dict[int, Layers] = {}
    for key, doc_layers in records.items():
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < len(docs):
            index = key
        elif isinstance(key, str) and key in by_name:
            index = by_name[key]
        else:
            raise UserError(
                f"{spans_path}: spans for document {key!r}, but {text_path.name} gives {len(docs)} "
                f"document(s): `doc` is an index from 0 to {len(docs) - 1} or a document name")
        length = len(docs[index].text)
        for layer, spans in doc_layers.items():
            past = next(((s, e) for s, e, _ in spans if e > length), None)
            if past:
                raise UserError(f"{spans_path}: a '{layer}' span ({past[0]}, {past[1]}) of document {key!r} "
                                f"ends past the end of its text ({length} characters)")
            layers.setdefault(index, {}).setdefault(layer, []).extend(spans)
    return [attrs.evolve(doc, annotations=layers.get(i)) for i, doc in enumerate(docs)]


def _synthetic(ref: str) -> Corpus:
    """`synthetic` or `synthetic:stories=N,seed=S`."""
    options: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in ref.partition(":")[2].split(","))):
        key, _, value = (s.strip() for s in item.partition("="))
        if key not in SYNTHETIC_OPTIONS:
            close = did_you_mean(key, SYNTHETIC_OPTIONS)
            raise UserError(f"unknown option '{key}' in corpus '{ref}'{'; ' + close if close else ''} "
                            "(write synthetic:stories=N,seed=S)")
        try:
            options[key] = int(value)
        except ValueError:
            raise UserError(f"corpus '{ref}': {key} must be a whole number, got '{value}'") from None
    if options.get("stories", 1) < 1:
        raise UserError(f"corpus '{ref}': stories must be at least 1")
    from grid_dsl.data.synthetic import synthetic_corpus

    return synthetic_corpus(**options)


def _not_found(ref: str, path: Path, builtins: list[str]) -> UserError:
    """The error for a ref that names nothing, with a suggestion."""
    looks_like_name = os.sep not in ref and "/" not in ref and "." not in ref
    if looks_like_name:
        close = did_you_mean(ref, builtins)
        return UserError(f"unknown corpus '{ref}': no such file or folder, and not a built-in corpus "
                         f"({', '.join(builtins)}){'; ' + close if close else ''}")
    parent = path.parent
    try:
        close = did_you_mean(path.name, os.listdir(parent))
    except OSError:  # no parent folder either, or not readable
        close = ""
    return UserError(f"corpus not found: no file or folder {path}{'; ' + close if close else ''}")


__all__ = ["Corpus", "FolderCorpus", "SourceDocument", "TextFileCorpus",
           "fingerprint_documents", "open_corpus", "read_text"]
