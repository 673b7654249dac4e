"""Built-in corpora: downloaded on first use, checked, kept in a cache.

    grimm            Grimms' Fairy Tales, Project Gutenberg eBook #2591 (2008 posting)
    andersen         Fairy Tales of Hans Christian Andersen, Project Gutenberg eBook #27200
    tinyshakespeare  the tiny Shakespeare file of char-rnn and nanoGPT

`fetch(name)` returns the path of the file in the cache, downloading it the
first time. A download is written to a temporary file in the cache folder
and renamed into place only once complete and checked: an interrupted
download leaves nothing behind.

Checksums. Each name stands for the file this version of multigrid was
tested with (the copies in ../shared/data/corpora), known by its SHA-256
digest. A download is kept when

* its bytes are that file (the digest matches), or
* for a Project Gutenberg book, the book inside it is that file's book: the
  SHA-256 of `gutenberg.clean(text)` (header, licence, BOM and CRLF cut)
  matches. Gutenberg rewrites its headers and licences from time to time;
  the documents compiled from the file, and so every dataset, are then the
  same as from the tested file (a note on stderr says so), or
* the user accepted its digest: MULTIGRID_ACCEPT_SHA256 names it. The
  acceptance is recorded beside the file in the cache (FILE.accepted-sha256),
  so later commands use the file without the variable.

Any other download is refused with both digests and these ways out; nothing
is saved. A dataset records the fingerprint of the documents it was compiled
from, so one compiled from an accepted, changed file is told apart from one
of the tested file.

Environment:
    MULTIGRID_CACHE          the cache folder (default: $XDG_CACHE_HOME/multigrid,
                             else ~/.cache/multigrid); files go to its `corpora/`
    MULTIGRID_CORPUS_URL     a mirror: FILE is fetched from $MULTIGRID_CORPUS_URL/FILE
                             (FILE as in `NAMED`), instead of the upstream address
    MULTIGRID_NO_DOWNLOAD    if set, never download (tests set it); a corpus that
                             is not in the cache is then an error
    MULTIGRID_ACCEPT_SHA256  SHA-256 digests (comma- or space-separated) of
                             downloads to keep although they are not the tested file

Offline, or instead of a changed upstream file, pass the path of a local copy
of the text instead of the name: any .txt file or folder is a corpus.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import attrs
from tqdm import tqdm

from grid_dsl.data import gutenberg
from grid_dsl.language.diagnostics import UserError

CACHE_ENV = "MULTIGRID_CACHE"
URL_ENV = "MULTIGRID_CORPUS_URL"
NO_DOWNLOAD_ENV = "MULTIGRID_NO_DOWNLOAD"
ACCEPT_ENV = "MULTIGRID_ACCEPT_SHA256"
ACCEPTED_SUFFIX = ".accepted-sha256"  # beside a cached file: the digest the user accepted for it
TIMEOUT = 30.0  # seconds without an answer before a download gives up
CHUNK = 1 << 16


@attrs.frozen
class NamedCorpus:
    name: str  # what a user types: `multigrid compile SPEC grimm`
    title: str
    filename: str  # the name in the cache and on a mirror
    url: str  # the upstream address
    sha256: str  # of the bytes of the file this version was tested with
    size: int  # bytes
    book_sha256: str | None = None  # of its book, UTF-8 (gutenberg.clean), for a Gutenberg file


NAMED: dict[str, NamedCorpus] = {
    corpus.name: corpus
    for corpus in (
        NamedCorpus(
            "grimm",
            "Grimms' Fairy Tales (Project Gutenberg eBook #2591)",
            "grimms_fairy_tales.txt",
            "https://www.gutenberg.org/files/2591/2591-0.txt",
            "4d909d18d528fbf393a06ecc05487006d6983f69d55a16138e4bc7642213eb90",
            549_746,
            "4dba471504315ded8ad71d4cb61ea72d33d0c16ce7e748b20db4254cbda8aa83",
        ),
        NamedCorpus(
            "andersen",
            "Fairy Tales of Hans Christian Andersen (Project Gutenberg eBook #27200)",
            "andersen_fairy_tales.txt",
            "https://www.gutenberg.org/cache/epub/27200/pg27200.txt",
            "2a64624c2d01c1310a1c391f936cda7a9b5a0caf42d19ac990355084f21322bd",
            2_040_102,
            "252644b79a19c7d9c7176b96d6451a510e4e97cea5d1964de19e3ee646388c2c",
        ),
        NamedCorpus(
            "tinyshakespeare",
            "tiny Shakespeare (char-rnn, nanoGPT)",
            "tinyshakespeare.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            1_115_394,
        ),
    )
}


def cache_dir() -> Path:
    """$MULTIGRID_CACHE, else $XDG_CACHE_HOME/multigrid, else ~/.cache/multigrid."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "multigrid"


def source_url(corpus: NamedCorpus) -> str:
    """Where `corpus` is downloaded from: the mirror if one is set, else upstream."""
    mirror = os.environ.get(URL_ENV)
    return f"{mirror.rstrip('/')}/{corpus.filename}" if mirror else corpus.url


def fetch(name: str, *, progress: bool | None = None) -> Path:
    """The cached file of the built-in corpus `name`, downloaded if needed.

    `progress`: show a progress bar (None: only when stderr is a terminal).
    """
    corpus = NAMED[name]
    path = cache_dir() / "corpora" / corpus.filename
    if path.is_file() and verdict(corpus, path, file_sha256(path), path) is not None:
        return path
    # Absent, or not a file we may use (a damaged cache): download it again.
    if os.environ.get(NO_DOWNLOAD_ENV):
        raise UserError(f"corpus '{name}' is not in the cache ({path}) and downloads are off "
                        f"({NO_DOWNLOAD_ENV} is set). {offline_hint(corpus, path)}")
    created = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the cache folder {path.parent}: {err.strerror or err}; "
                        f"set {CACHE_ENV} to a folder you can write to") from None
    url, hint = source_url(corpus), offline_hint(corpus, path)
    try:
        download(url, path, check=lambda partial, digest: admit(corpus, url, partial, digest, path, hint),
                 label=name, progress=progress, hint=hint)
    except BaseException:
        for folder in created:  # deepest first: a failed download leaves no empty cache folders
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return path


def verdict(corpus: NamedCorpus, file: Path, digest: str, cached: Path) -> str | None:
    """Why `file` (SHA-256 `digest`) may stand for `corpus` in the cache at
    `cached`: "tested" (the very file this version was tested with), "same
    book" (a Gutenberg file whose book is the tested one's), "accepted" (a
    digest the user accepted); None when it may not."""
    if digest == corpus.sha256:
        return "tested"
    if corpus.book_sha256 and book_sha256(file) == corpus.book_sha256:
        return "same book"
    if digest in accepted_digests(cached):
        return "accepted"
    return None


def admit(corpus: NamedCorpus, url: str, partial: Path, digest: str, dest: Path, hint: str) -> None:
    """Keep the complete download `partial` for `dest`, or refuse it (UserError)."""
    why = verdict(corpus, partial, digest, dest)
    if why is None:
        book = (" and the book inside it (Project Gutenberg header and licence cut) differs too, so more than "
                "the header has changed" if corpus.book_sha256 else "")
        raise UserError(
            f"the file at {url} is not the one this version of multigrid was tested with as '{corpus.name}' "
            f"(SHA-256 {digest}, tested: {corpus.sha256}){book}. Nothing was saved. To use this file anyway, "
            f"set {ACCEPT_ENV}={digest} and run the command again (it is then kept and used from the cache; "
            f"datasets compiled from it record its own corpus fingerprint). {hint}")
    if why == "accepted":
        # Recorded before the file is renamed into place: a cached file is never without its acceptance.
        record = dest.with_name(dest.name + ACCEPTED_SUFFIX)
        handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{record.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(digest + "\n")
            os.replace(name, record)
        finally:
            Path(name).unlink(missing_ok=True)
    elif why == "same book":
        print(f"note: the file at {url} differs from the one multigrid was tested with as '{corpus.name}' in its "
              "Project Gutenberg header or licence only; the book, and every dataset compiled from it, is the same",
              file=sys.stderr)


def download(url: str, dest: Path, *, check, label: str, progress: bool | None = None, hint: str = "") -> None:
    """Download `url` to `dest` atomically, if `check(partial, sha256)` lets it.

    The bytes go to a temporary file beside `dest`; once complete, `check`
    is called with its path and SHA-256 hex digest and refuses it by raising
    UserError; otherwise it is renamed to `dest`. On any failure (including
    Ctrl-C) the temporary file is removed and `dest` is left as it was.
    Network and server failures raise UserError, with `hint` appended.
    """
    dest = Path(dest)
    partial: Path | None = None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            announced = response.headers.get("Content-Length")
            expected = int(announced) if announced and announced.isdigit() else None
            handle, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
            partial = Path(name)
            digest, received = hashlib.sha256(), 0
            with os.fdopen(handle, "wb") as out, tqdm(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {label}",
                disable=None if progress is None else not progress,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if expected is not None and received != expected:
            raise UserError(f"the download of {label} from {url} broke off after {received:,} of "
                            f"{expected:,} bytes; run the command again. {hint}")
        check(partial, digest.hexdigest())
        os.replace(partial, dest)
        partial = None
    except urllib.error.HTTPError as err:
        raise UserError(f"cannot download {label}: {url} answered {err.code} {err.reason}. {hint}") from None
    except urllib.error.URLError as err:
        raise UserError(f"cannot download {label} from {url}: {_why(err.reason)}. {hint}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as err:
        raise UserError(f"the download of {label} from {url} failed: {_why(err)}. {hint}") from None
    except OSError as err:  # the cache side: disk full, permissions
        raise UserError(f"cannot save {label} in {dest.parent}: {err.strerror or err}; "
                        f"set {CACHE_ENV} to a folder with room") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)


def offline_hint(corpus: NamedCorpus, cached: Path) -> str:
    """How to get going without downloading: a local file, the cache, a mirror."""
    return (f"To use a local copy instead, get {corpus.url} on a machine that can reach it and pass "
            f"its path in place of the name (e.g. `multigrid compile SPEC path/to/{corpus.filename}`), "
            f"or copy it to {cached}; or set {URL_ENV} to a mirror that serves {corpus.filename}.")


def file_sha256(path: Path) -> str:
    """The SHA-256 digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(CHUNK * 16):
            digest.update(chunk)
    return digest.hexdigest()


def book_sha256(path: Path) -> str | None:
    """The SHA-256 digest of the book inside a Project Gutenberg file
    (`gutenberg.clean`, as UTF-8); None when the file is not UTF-8 text
    with Gutenberg markers."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not gutenberg.is_gutenberg(text):
        return None
    return hashlib.sha256(gutenberg.clean(text).encode("utf-8")).hexdigest()


def accepted_digests(cached: Path) -> set[str]:
    """The digests the user accepted for the cache file `cached`: those in
    MULTIGRID_ACCEPT_SHA256 and the one recorded beside it."""
    digests = set(os.environ.get(ACCEPT_ENV, "").replace(",", " ").lower().split())
    try:
        digests.update(cached.with_name(cached.name + ACCEPTED_SUFFIX).read_text(encoding="ascii").split())
    except (OSError, UnicodeDecodeError):
        pass
    return digests


def _why(reason: object) -> str:
    """A network failure in words."""
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused (is the address right, or are you offline?)"
    if isinstance(reason, socket.gaierror):
        return "the host name could not be resolved (are you offline?)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {TIMEOUT:g} seconds (are you offline?)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
