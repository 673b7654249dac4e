"""Writing a dataset directory atomically: complete or absent.

    with staged(Path("data/tales")) as tmp:     # .tales.tmp-HOST-PID-<random> beside it
        ...write every file under tmp...
    # now data/tales is the new dataset; on an error it is what it was before

`staged(DIR)` yields a temporary directory beside DIR, named after the host
and process that own it, and renames it to DIR when the block ends without
an error (an old DIR is moved aside first and removed once the new one is in
place); on any error, Ctrl-C included, the temporary directory is removed.
What a killed writer left behind is removed by the next writer of DIR on the
same host, once the owning process is gone. `io_errors` turns OSErrors into
UserErrors (a full disk says so), and `check_target` says what DIR holds
now: nothing, a dataset (its manifest), a corrupt dataset or one of another
version (to be replaced), or something else (never replaced: a user error).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import socket
from pathlib import Path
from typing import Iterator

import attrs

from grid_dsl.data.dataset import Dataset
from grid_dsl.data.manifest import MANIFEST, Manifest
from grid_dsl.language.diagnostics import UserError


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Write a dataset atomically: yields a temporary directory beside
    `out` that replaces `out` when the block ends without an error and is
    removed otherwise, so `out` is always complete or absent. I/O errors
    become UserErrors (a full disk says so)."""
    with io_errors(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        tmp = _sibling(out, "tmp")
        tmp.mkdir()
        try:
            yield tmp
            _replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def io_errors(out: Path):
    """OSErrors in the block as UserErrors naming `out`; nothing was written."""
    try:
        yield
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise UserError(f"no space left on the device while writing {out}; nothing was written "
                            "(free some space or choose another --out)") from None
        raise UserError(f"{err.filename or out}: {err.strerror or err}; nothing was written to {out}") from None


def _sibling(out: Path, kind: str) -> Path:
    """.NAME.KIND-HOST-PID-<random> beside `out`: whose it is, to clean up after a killed process."""
    return out.parent / f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _replace(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = _sibling(out, "old")
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove_stale(out: Path) -> None:
    """Remove what killed writers of `out` on this host left behind (a
    process on another host sharing the file system is left alone)."""
    for kind in ("tmp", "old"):
        prefix = f".{out.name}.{kind}-{socket.gethostname()}-"
        for path in out.parent.glob(f"{prefix}*"):
            pid = path.name[len(prefix):].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.frozen
class Existing:
    """A dataset at the path to be written: its manifest, or None when it is
    corrupt or of another format version (it is replaced either way)."""

    manifest: Manifest | None


def check_target(out: Path) -> Existing | None:
    """What dataset is at `out`: None when nothing is there (or an empty
    directory). UserError when `out` is something else, which is never
    replaced."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise UserError(f"--out {out} is a file; choose a directory path for the dataset")
    if not (out / MANIFEST).exists():
        if any(out.iterdir()):
            raise UserError(f"--out {out} exists and is not a compiled dataset (no {MANIFEST}); "
                            "choose another path or remove it")
        return None
    try:
        return Existing(Dataset.open(out).manifest)
    except UserError:
        return Existing(None)
