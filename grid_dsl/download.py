"""Built-in corpora: downloaded on first use, checked, kept in a cache.

    grimm            Grimms' Fairy Tales, Project Gutenberg eBook #2591 (2008 posting)
    andersen         Fairy Tales of Hans Christian Andersen, Project Gutenberg eBook #27200
    tinyshakespeare  the tiny Shakespeare file of char-rnn and nanoGPT

`fetch(name)` returns the path of the file in the cache, downloading it the
first time. Each file's SHA-256 digest is known in advance: a download that
does not match it is refused (the upstream file has changed), so a name
always means the same text, byte for byte. A download is written to a
temporary file in the cache folder and renamed into place only once complete
and checked: an interrupted download leaves nothing behind.

Environment:
    MULTIGRID_CACHE        the cache folder (default: $XDG_CACHE_HOME/multigrid,
                           else ~/.cache/multigrid); files go to its `corpora/`
    MULTIGRID_CORPUS_URL   a mirror: FILE is fetched from $MULTIGRID_CORPUS_URL/FILE
                           (FILE as in `NAMED`), instead of the upstream address
    MULTIGRID_NO_DOWNLOAD  if set, never download (tests set it); a corpus that
                           is not in the cache is then an error

Offline, or when the upstream has changed, pass the path of a local copy of
the text instead of the name: any .txt file or folder is a corpus.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import attrs
from tqdm import tqdm

from .diagnostics import UserError

CACHE_ENV = "MULTIGRID_CACHE"
URL_ENV = "MULTIGRID_CORPUS_URL"
NO_DOWNLOAD_ENV = "MULTIGRID_NO_DOWNLOAD"
TIMEOUT = 30.0  # seconds without an answer before a download gives up
CHUNK = 1 << 16


@attrs.frozen
class NamedCorpus:
    name: str  # what a user types: `multigrid compile SPEC grimm`
    title: str
    filename: str  # the name in the cache and on a mirror
    url: str  # the upstream address
    sha256: str  # of the file's bytes
    size: int  # bytes


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
        ),
        NamedCorpus(
            "andersen",
            "Fairy Tales of Hans Christian Andersen (Project Gutenberg eBook #27200)",
            "andersen_fairy_tales.txt",
            "https://www.gutenberg.org/cache/epub/27200/pg27200.txt",
            "2a64624c2d01c1310a1c391f936cda7a9b5a0caf42d19ac990355084f21322bd",
            2_040_102,
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
    if path.is_file() and file_sha256(path) == corpus.sha256:
        return path
    # Absent, or not the file we know (a damaged cache): download it again.
    if os.environ.get(NO_DOWNLOAD_ENV):
        raise UserError(f"corpus '{name}' is not in the cache ({path}) and downloads are off "
                        f"({NO_DOWNLOAD_ENV} is set). {offline_hint(corpus, path)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the cache folder {path.parent}: {err.strerror or err}; "
                        f"set {CACHE_ENV} to a folder you can write to") from None
    download(source_url(corpus), path, sha256=corpus.sha256, label=name, progress=progress,
             hint=offline_hint(corpus, path))
    return path


def download(url: str, dest: Path, *, sha256: str, label: str, progress: bool | None = None,
             hint: str = "") -> None:
    """Download `url` to `dest` if its SHA-256 digest is `sha256`, atomically.

    The bytes go to a temporary file beside `dest`, renamed to `dest` only
    when complete and checked; on any failure (including Ctrl-C) the
    temporary file is removed and `dest` is left as it was. Network, server
    and checksum failures raise UserError, with `hint` appended.
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
        if digest.hexdigest() != sha256:
            raise UserError(
                f"the file downloaded for {label} from {url} is not the one this version of multigrid knows "
                f"(SHA-256 {digest.hexdigest()}, expected {sha256}): the upstream file may have changed. "
                f"Nothing was saved. {hint}")
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
