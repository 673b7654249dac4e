"""Peak resident memory of one command, measured cleanly.

    stdout, peak_mb = run_measured([sys.executable, "script.py", ...])

Linux charges a process, in ru_maxrss, the resident size of the process it
was forked from (the pages it shared before exec): a compile started from a
benchmark runner holding 1 GB of models would report at least 1 GB. So the
command runs under a small wrapper process, forked from nothing bigger than
an idle interpreter, which reads resource.getrusage(RUSAGE_CHILDREN).ru_maxrss
once the command has ended: the peak RSS of the largest process of the
command's tree that was waited for (the command itself, or a worker of its
pool). Linux reports ru_maxrss in KiB; MB here = 2^20 bytes, as `ps` shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRAPPER = """import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True)
sys.stdout.write(done.stdout)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"""


def run_measured(argv: list[str]) -> tuple[str, float]:
    """(the command's stdout, its peak RSS in MB); the project is on its
    PYTHONPATH. A failing command raises RuntimeError with its stderr."""
    result = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.stderr}")
    stdout, _, peak = result.stdout.rstrip("\n").rpartition("\n")
    return stdout, int(peak) / 1024
