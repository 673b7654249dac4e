"""Writing one file atomically: the one definition every writer uses.

    write_atomically(path, "text")                 # str (UTF-8) or bytes
    write_atomically(path, writer=lambda f: torch.save(state, f))

The data goes to a temporary file beside `path` (same folder, so the rename
cannot cross file systems), is flushed and fsync'd, then renamed over
`path`: a reader sees the old file or the new one, whole, never a part. On
any error, Ctrl-C included, the temporary file is removed and `path` is as
it was. (A dataset directory is written whole by grid_dsl.data.staging.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO, Callable


def write_atomically(path: str | Path, data: str | bytes | None = None, *,
                     writer: Callable[[BinaryIO], None] | None = None) -> None:
    """Replace `path` with `data` (or what `writer` writes to a binary file)."""
    if (data is None) == (writer is None):
        raise TypeError("write_atomically takes data or a writer, not both")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            if writer is not None:
                writer(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomically(path: str | Path, value) -> None:
    """`value` as indented JSON (non-ASCII kept), atomically."""
    write_atomically(path, json.dumps(value, indent=1, ensure_ascii=False) + "\n")
