"""Built-in corpora (grid_dsl/data/download.py): the real download code against a
local HTTP server on 127.0.0.1 serving the shared copies. Never the internet."""

import hashlib
import http.server
import socket
import threading
import urllib.error
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED

from grid_dsl.data import download
from grid_dsl.data.corpora import open_corpus
from grid_dsl.language.diagnostics import UserError

CORPORA = SHARED / "corpora"
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"shared corpora not found at {CORPORA}; "
                                "set MULTIGRID_SHARED_DATA to the shared data folder")


class Server:
    """A threaded HTTP server on 127.0.0.1 serving `folder`, counting requests."""

    def __init__(self, folder: Path, truncate: bool = False):
        requests = self.requests = Counter()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self):
                requests[self.path] += 1
                if not truncate:
                    return super().do_GET()
                body = (folder / self.path.lstrip("/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))  # promise it all ...
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])  # ... send half, and hang up
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder; downloads allowed."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTIGRID_CACHE", str(folder))
    monkeypatch.delenv("MULTIGRID_NO_DOWNLOAD", raising=False)
    return folder


@pytest.fixture
def mirror(cache, monkeypatch):
    """A local server of the shared copies, set as MULTIGRID_CORPUS_URL."""
    server = Server(CORPORA)
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", server.url + "/")
    yield server
    server.close()


def serve(folder: Path, monkeypatch, **options) -> Server:
    server = Server(folder, **options)
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", server.url)
    return server


def files_in(folder: Path) -> list[str]:
    """Every file under `folder`, hidden and temporary ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------ the table


def test_named_corpora_match_the_known_upstream_files():
    for corpus in download.NAMED.values():
        data = (CORPORA / corpus.filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == corpus.sha256
        assert len(data) == corpus.size
        assert corpus.url.startswith("https://")
        assert download.book_sha256(CORPORA / corpus.filename) == corpus.book_sha256  # None: not Gutenberg


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MULTIGRID_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("MULTIGRID_CACHE")
    assert download.cache_dir() == tmp_path / "xdg" / "multigrid"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.cache_dir() == tmp_path / "home" / ".cache" / "multigrid"


def test_source_url_is_the_mirror_or_upstream(monkeypatch):
    grimm = download.NAMED["grimm"]
    monkeypatch.delenv("MULTIGRID_CORPUS_URL", raising=False)
    assert download.source_url(grimm) == "https://www.gutenberg.org/files/2591/2591-0.txt"
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", "http://mirror.example/corpora/")
    assert download.source_url(grimm) == "http://mirror.example/corpora/grimms_fairy_tales.txt"


# ------------------------------------------------------------------ downloading


def test_first_use_downloads_and_the_second_uses_the_cache(mirror, cache):
    corpus = open_corpus("grimm")
    assert corpus.name == "grimm"
    docs = list(corpus.documents())
    assert len(docs) == 62 and docs[0].name == "THE GOLDEN BIRD"
    assert files_in(cache) == ["corpora/grimms_fairy_tales.txt"]
    assert (cache / "corpora" / "grimms_fairy_tales.txt").read_bytes() == (CORPORA / "grimms_fairy_tales.txt").read_bytes()
    assert mirror.requests == {"/grimms_fairy_tales.txt": 1}
    again = open_corpus("grimm")
    assert again.fingerprint() == corpus.fingerprint()
    assert mirror.requests == {"/grimms_fairy_tales.txt": 1}


def test_every_named_corpus_downloads(mirror, cache):
    counts = {name: len(list(open_corpus(name).documents())) for name in ("andersen", "tinyshakespeare")}
    assert counts == {"andersen": 126, "tinyshakespeare": 1}
    assert files_in(cache) == ["corpora/andersen_fairy_tales.txt", "corpora/tinyshakespeare.txt"]


def test_a_damaged_cache_file_is_downloaded_again(mirror, cache):
    (cache / "corpora").mkdir(parents=True)
    (cache / "corpora" / "tinyshakespeare.txt").write_text("truncated")
    path = download.fetch("tinyshakespeare")
    assert download.file_sha256(path) == download.NAMED["tinyshakespeare"].sha256
    assert mirror.requests == {"/tinyshakespeare.txt": 1}


def test_a_cached_file_needs_no_network(cache, monkeypatch):
    monkeypatch.setenv("MULTIGRID_NO_DOWNLOAD", "1")
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", f"http://127.0.0.1:{free_port()}")
    (cache / "corpora").mkdir(parents=True)
    (cache / "corpora" / "tinyshakespeare.txt").write_bytes((CORPORA / "tinyshakespeare.txt").read_bytes())
    (doc,) = open_corpus("tinyshakespeare").documents()
    assert len(doc.text) == 1_115_394


def serve_changed(tmp_path, monkeypatch, filename: str, change) -> tuple[Server, bytes]:
    """A server of one shared copy with `change(bytes) -> bytes` applied."""
    folder = tmp_path / "changed"
    folder.mkdir()
    data = change((CORPORA / filename).read_bytes())
    (folder / filename).write_bytes(data)
    return serve(folder, monkeypatch), data


def rewritten_header(data: bytes) -> bytes:
    """What Gutenberg does to its files: a new header, LF line ends, no BOM."""
    data = data.replace(b"Posting Date: December 14, 2008 [EBook #2591]", b"Release date: April 1, 2001 [eBook #2591]")
    return data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n") + b"\nUpdated: 2025\n"


def changed_tale(data: bytes) -> bytes:
    return data.replace(b"A certain king had a beautiful garden", b"A certain king had a splendid garden", 1)


def test_a_rewritten_gutenberg_header_is_kept_with_a_note(cache, tmp_path, monkeypatch, capsys):
    server, served = serve_changed(tmp_path, monkeypatch, "grimms_fairy_tales.txt", rewritten_header)
    try:
        corpus = open_corpus("grimm")
        assert files_in(cache) == ["corpora/grimms_fairy_tales.txt"]
        assert (cache / "corpora" / "grimms_fairy_tales.txt").read_bytes() == served
        note = capsys.readouterr().err
        assert "differs from the one multigrid was tested with as 'grimm' in its Project Gutenberg header" in note
        tested = open_corpus(CORPORA / "grimms_fairy_tales.txt")
        assert corpus.fingerprint() == tested.fingerprint()  # the same documents: the same datasets
        open_corpus("grimm")
        assert server.requests == {"/grimms_fairy_tales.txt": 1}  # the kept file is used from the cache
    finally:
        server.close()


@pytest.mark.parametrize("name, filename, change", [
    ("grimm", "grimms_fairy_tales.txt", changed_tale),
    ("tinyshakespeare", "tinyshakespeare.txt", lambda data: data + b"\nA new line.\n"),
])
def test_a_changed_file_is_refused_with_both_digests_and_nothing_is_saved(cache, tmp_path, monkeypatch, name,
                                                                        filename, change):
    server, served = serve_changed(tmp_path, monkeypatch, filename, change)
    try:
        with pytest.raises(UserError) as err:
            open_corpus(name)
    finally:
        server.close()
    message = str(err.value)
    digest = hashlib.sha256(served).hexdigest()
    assert message.startswith(f"the file at {server.url}/{filename} is not the one this version of multigrid was "
                              f"tested with as '{name}' (SHA-256 {digest}, tested: {download.NAMED[name].sha256})")
    assert ("the book inside it (Project Gutenberg header and licence cut) differs too" in message) == (name == "grimm")
    assert f"Nothing was saved. To use this file anyway, set MULTIGRID_ACCEPT_SHA256={digest} and run" in message
    assert f"multigrid compile SPEC path/to/{filename}" in message
    assert files_in(cache) == []


def test_an_accepted_digest_is_kept_and_used_without_the_variable(cache, tmp_path, monkeypatch):
    server, served = serve_changed(tmp_path, monkeypatch, "grimms_fairy_tales.txt", changed_tale)
    digest = hashlib.sha256(served).hexdigest()
    monkeypatch.setenv("MULTIGRID_ACCEPT_SHA256", f"{'0' * 64}, {digest.upper()}")
    try:
        docs = list(open_corpus("grimm").documents())
    finally:
        server.close()
    assert docs[0].text.startswith("THE GOLDEN BIRD") and "A certain king had a splendid garden" in docs[0].text
    assert files_in(cache) == ["corpora/grimms_fairy_tales.txt", "corpora/grimms_fairy_tales.txt.accepted-sha256"]
    assert (cache / "corpora" / "grimms_fairy_tales.txt.accepted-sha256").read_text() == digest + "\n"
    monkeypatch.delenv("MULTIGRID_ACCEPT_SHA256")
    monkeypatch.setenv("MULTIGRID_NO_DOWNLOAD", "1")  # the server is gone: only the cache can answer
    assert download.fetch("grimm").read_bytes() == served
    (cache / "corpora" / "grimms_fairy_tales.txt").write_bytes(served[:1000])  # damaged: not the accepted file
    with pytest.raises(UserError, match=r"corpus 'grimm' is not in the cache"):
        download.fetch("grimm")


def test_an_interrupted_download_leaves_nothing_behind(cache, monkeypatch):
    server = serve(CORPORA, monkeypatch, truncate=True)
    try:
        with pytest.raises(UserError, match=r"the download of grimm from http://127.0.0.1:\d+/grimms_fairy_tales.txt "
                                            r"broke off after 274,873 of 549,746 bytes; run the command again"):
            open_corpus("grimm")
    finally:
        server.close()
    assert files_in(cache) == []


def test_ctrl_c_during_a_download_leaves_nothing_behind(mirror, cache, monkeypatch):
    class Interrupted(download.tqdm):
        def update(self, n=1):
            super().update(n)
            raise KeyboardInterrupt

    monkeypatch.setattr(download, "tqdm", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_corpus("andersen")
    assert files_in(cache) == []
    assert mirror.requests == {"/andersen_fairy_tales.txt": 1}


# ------------------------------------------------------------------ offline and server errors


def test_offline_connection_refused_says_how_to_use_a_local_file(cache, monkeypatch):
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError) as err:
        open_corpus("grimm")
    message = str(err.value)
    assert message.startswith("cannot download grimm from http://127.0.0.1:")
    assert "the connection was refused" in message
    assert "pass its path in place of the name (e.g. `multigrid compile SPEC path/to/grimms_fairy_tales.txt`)" in message
    assert str(cache / "corpora" / "grimms_fairy_tales.txt") in message
    assert files_in(cache) == []


def test_offline_name_resolution_failure(cache, monkeypatch):
    def no_dns(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(download.urllib.request, "urlopen", no_dns)
    with pytest.raises(UserError, match=r"cannot download andersen from https://www.gutenberg.org/cache/epub/27200/"
                                        r"pg27200.txt: the host name could not be resolved \(are you offline\?\)"):
        open_corpus("andersen")


def test_a_server_that_never_answers_times_out(cache, monkeypatch):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections (the kernel does) but never answers
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(download, "TIMEOUT", 0.3)
    try:
        with pytest.raises(UserError, match=r"no answer within 0.3 seconds \(are you offline\?\)\. To use a local copy"):
            open_corpus("tinyshakespeare")
    finally:
        silent.close()
    assert files_in(cache) == []


def test_a_mirror_without_the_file(cache, tmp_path, monkeypatch):
    (tmp_path / "empty_mirror").mkdir()
    server = serve(tmp_path / "empty_mirror", monkeypatch)
    try:
        with pytest.raises(UserError, match=r"cannot download grimm: http://127.0.0.1:\d+/grimms_fairy_tales.txt "
                                            r"answered 404 File not found"):
            open_corpus("grimm")
    finally:
        server.close()


def test_downloads_off(cache, monkeypatch):
    monkeypatch.setenv("MULTIGRID_NO_DOWNLOAD", "1")
    with pytest.raises(UserError, match=r"corpus 'grimm' is not in the cache \(.*grimms_fairy_tales.txt\) and "
                                        r"downloads are off \(MULTIGRID_NO_DOWNLOAD is set\)\. To use a local copy"):
        open_corpus("grimm")


def test_a_cache_folder_that_cannot_be_created(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("MULTIGRID_CACHE", str(tmp_path / "a_file" / "cache"))
    monkeypatch.delenv("MULTIGRID_NO_DOWNLOAD", raising=False)
    with pytest.raises(UserError, match=r"cannot create the cache folder .*a_file/cache/corpora: .*; "
                                        r"set MULTIGRID_CACHE to a folder you can write to"):
        download.fetch("grimm")


# ------------------------------------------------------------------ the progress bar


def test_progress_bar_on_a_stderr_that_is_not_a_terminal(mirror, capsys):
    download.fetch("tinyshakespeare", progress=True)
    err = capsys.readouterr().err
    assert "downloading tinyshakespeare" in err and "100%" in err and "1.06M" in err


def test_no_progress_bar_by_default_when_stderr_is_not_a_terminal(mirror, capsys):
    download.fetch("tinyshakespeare")
    assert capsys.readouterr().err == ""


def test_a_failed_download_leaves_no_empty_cache_folder(cache, monkeypatch):
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError):
        open_corpus("grimm")
    assert not cache.exists()  # neither the cache nor its corpora/ folder was left behind


def test_a_failed_download_keeps_a_cache_folder_that_was_there(cache, monkeypatch):
    (cache / "corpora").mkdir(parents=True)
    monkeypatch.setenv("MULTIGRID_CORPUS_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UserError):
        open_corpus("grimm")
    assert (cache / "corpora").is_dir()
