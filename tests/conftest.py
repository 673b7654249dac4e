"""Shared fixtures: the real corpora and NLTK data in ../shared/data.

Tests never download anything: MULTIGRID_NO_DOWNLOAD stops the NLTK axes
from trying, and NLTK_DATA defaults to the shared copy when it exists.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MULTIGRID_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("MULTIGRID_NO_DOWNLOAD", "1")
if (SHARED / "nltk_data").is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))
    import nltk  # noqa: E402  (after NLTK_DATA is set)

    if os.environ["NLTK_DATA"] not in nltk.data.path:
        nltk.data.path.insert(0, os.environ["NLTK_DATA"])


def gutenberg_body(raw: str) -> str:
    """A Project Gutenberg text without BOM, CRLF, header and licence."""
    text = raw.lstrip("\ufeff").replace("\r\n", "\n")
    start = text.index("\n", text.index("*** START")) + 1
    return text[start : text.index("*** END")]


@pytest.fixture(scope="session")
def grimm() -> str:
    path = SHARED / "corpora" / "grimms_fairy_tales.txt"
    if not path.exists():
        pytest.skip(f"Grimm's tales not found at {path}; set MULTIGRID_SHARED_DATA to the shared data folder")
    return gutenberg_body(path.read_text(encoding="utf-8"))


def need_nltk(*packages: str):
    """Skip unless NLTK data packages are present (never downloads in tests)."""
    from axes import _nltk

    absent = _nltk.missing(*packages)
    if absent:
        pytest.skip(
            f"NLTK data {' '.join(absent)} not found: run `python -m nltk.downloader {' '.join(absent)}` "
            "or set NLTK_DATA to a folder that has it (CI uses ../shared/data/nltk_data)"
        )


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and threads crawl when other
    processes share the cores (`pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(capsys, *argv):
    """`multigrid ARGV` in this process: (exit code, stdout, stderr); never a traceback."""
    from model.cli import main as cli

    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def fake_distribution(folder: Path, name: str, entry_points: str) -> None:
    """What pip writes for an installed package, as far as entry points go
    (a *.dist-info folder on sys.path is all importlib.metadata looks at)."""
    info = folder / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def run_metrics(history: list[dict], **fields):
    """A RunMetrics (a run's metrics.json) with this learning curve ({step,
    wall_time_s, bpc_joint[, flops]} a point) and these fields; placeholders
    for the rest, for tests of what reads one."""
    from model.network.metrics import EvalSetup, Evaluation, RunMetrics

    curve = tuple(Evaluation(**{"bpc_main": h["bpc_joint"], **h}) for h in history)
    last = curve[-1]
    placeholders = dict(
        leaky=False, label="honest", bpc_main=last.bpc_main, bpc_joint=last.bpc_joint, bits={"main": last.bpc_main},
        val_loss={}, train_loss={}, step=last.step, stopped="max_iters", tokens=0, tokens_per_s=0.0,
        wall_time_s=last.wall_time_s, parameters=1, axes=(), best=None,
        eval=EvalSetup(batches=1, batch_size=1, block_size=1, seed=0, positions=1), data="d", spec_hash="a",
        processes=1, device="cpu", config={}, history=curve)
    return RunMetrics(**{**placeholders, **fields})
