"""The README's and docs/'s examples run as written (the convention is in the
README, *Documentation*):

    ```console   each `$ ` line is a command run from the repository root, in
                 order within a page; it must exit 0, and the lines after it,
                 when given, are its exact output (trailing spaces aside)
    ```axes      a complete spec: it checks and is in `multigrid fmt`'s layout
    ```axes refused   a spec that `check` must refuse
    ```axes FILE a spec that must equal FILE, which ships
    ```python    run, in order within a page
    ```sh        shown, not run (trains or downloads for minutes)

Commands run in a scratch folder that sees the repository's files, so what
they write (datasets, runs) never lands in the checkout. Blocks that need
NLTK's data skip when it is absent, as the rest of the suite does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import ROOT, need_nltk

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NLTK_PACKAGES = ("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")
# What a command run from the repository root may read (never its .git or a venv).
VISIBLE = ("README.md", "pyproject.toml", "docs", "examples", "grid_dsl", "axes", "model", "benchmarks", "tests")


class Block(NamedTuple):
    page: Path
    line: int  # of the opening fence, 1-based
    info: str  # the fence's info string: "console", "axes refused", ...
    text: str

    @property
    def kind(self) -> str:
        return self.info.split()[0] if self.info else ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page."""
    found, lines = [], page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(page, i + 1, lines[i][3:].strip(), "".join(f"{x}\n" for x in lines[i + 1 : end])))
            i = end
        i += 1
    return found


def of_kind(kind: str) -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.kind == kind]


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each `$ ` line of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line.rstrip())
        else:
            raise AssertionError(f"{block.where}: a console block starts with a `$ ` command")
    return out


def output_mismatch(expected: list[str], stdout: str) -> str | None:
    """None when the output is as the page shows it (or the page shows none)."""
    got = [line.rstrip() for line in stdout.rstrip("\n").splitlines()]
    if not expected or got == expected:
        return None
    return "the page shows:\n" + "\n".join(expected) + "\nthe command printed:\n" + "\n".join(got)


def nltk_absent() -> bool:
    from axes import _nltk

    return bool(_nltk.missing(*NLTK_PACKAGES))


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A scratch repository root: the clone's files, linked; anything written stays here."""
    for name in VISIBLE:
        if (ROOT / name).exists():
            (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


# ---------------------------------------------------------------- console


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.kind == "console" for b in blocks(p))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_console_blocks_run_as_written(page, workspace):
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("NLTK_DATA", "MULTIGRID_SHARED_DATA"):  # as the suite was started: relative to its folder
        if env.get(name):
            env[name] = os.pathsep.join(os.path.abspath(p) for p in env[name].split(os.pathsep))
    if shutil.which("multigrid", path=env["PATH"]) is None:
        pytest.skip("the `multigrid` command is not installed (pip install -e .)")
    needs_nltk = []
    for block in (b for b in blocks(page) if b.kind == "console"):
        for command, expected in commands(block):
            done = subprocess.run(["bash", "-c", command], cwd=workspace, env=env, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 0 and "NLTK data not found" in done.stderr and nltk_absent():
                needs_nltk.append(f"{block.where}: `{command}`")
                continue
            assert done.returncode == 0, f"{block.where}: `{command}` exited {done.returncode}:\n{done.stderr}"
            assert "Traceback" not in done.stderr, f"{block.where}: `{command}`:\n{done.stderr}"
            mismatch = output_mismatch(expected, done.stdout)
            assert mismatch is None, f"{block.where}: `{command}`: {mismatch}"
    if needs_nltk:
        pytest.skip(f"these need NLTK data ({', '.join(NLTK_PACKAGES)}), the others ran: {'; '.join(needs_nltk)}")


def test_a_wrong_output_on_a_page_is_caught():
    (block,) = [b for b in blocks(ROOT / "README.md") if b.kind == "console"][:1]
    (command, expected), *_ = commands(block)
    assert expected, "the README's first console block shows its output"
    shown = "\n".join(expected) + "\n"
    assert output_mismatch(expected, shown) is None
    assert output_mismatch(expected, shown.replace("ROYAL", "ROYAl", 1)) is not None


# ---------------------------------------------------------------- specs


def check_block(block: Block):
    """Check a spec block as a file at the repository root (so includes of
    examples/... resolve); skip when it needs NLTK data that is absent."""
    from grid_dsl import check, parse

    spec = parse(block.text, str(ROOT / f"{block.page.stem}-line-{block.line}.axes"))
    try:
        return check(spec)
    except Exception as error:
        if "NLTK data not found" in str(error) and nltk_absent():
            pytest.skip(f"{block.where} needs NLTK data")
        raise


@pytest.mark.parametrize("block", of_kind("axes"), ids=lambda b: b.where)
def test_spec_blocks_check_and_are_canonical(block):
    from grid_dsl import SpecError, parse
    from grid_dsl.language.formatter import format_spec

    assert format_spec(parse(block.text)) == block.text, f"{block.where}: not in `multigrid fmt`'s layout"
    shown_file = block.info.split()[1:]
    if shown_file == ["refused"]:
        with pytest.raises(SpecError):
            check_block(block)
        return
    if shown_file:
        path = ROOT / shown_file[0]
        assert path.is_file(), f"{block.where}: {shown_file[0]} does not ship"
        assert path.read_text(encoding="utf-8") == block.text, f"{block.where}: differs from {shown_file[0]}"
    check_block(block)


def test_the_pages_have_spec_and_console_blocks():
    """The tests above can fail only if there is something to run."""
    assert len(of_kind("axes")) >= 3 and len(of_kind("console")) >= 3
    assert any(b.info == "axes refused" for b in of_kind("axes"))


# ---------------------------------------------------------------- python


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.kind == "python" for b in blocks(p))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page, monkeypatch):
    need_nltk(*NLTK_PACKAGES)  # the examples compile POS specs
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "readme_example"}
    for block in (b for b in blocks(page) if b.kind == "python"):
        exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102 (our own pages)


# ---------------------------------------------------------------- files the pages name

# Repository paths the pages name, in links or in code: each must ship
# (a name cut by a placeholder, `tests/test_<kind>.py`, is not one).
NAMED_PATH = re.compile(r"\b((?:examples|grid_dsl|axes|model|benchmarks|tests|docs)/[\w./-]*\w)(?![\w./-]*<)")
# Pages whose text names files the reader is to create; their links still must resolve.
CREATES_FILES = {"adding-a-kind.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_page_names_ships(page):
    text = page.read_text(encoding="utf-8")
    missing = set()
    for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+:", link) and not (page.parent / link).exists():
            missing.add(link)
    for name in [] if page.name in CREATES_FILES else NAMED_PATH.findall(text):
        if not (ROOT / name).exists():
            missing.add(name)
    assert not missing, f"{page.relative_to(ROOT)} names files that don't ship: {sorted(missing)}"
