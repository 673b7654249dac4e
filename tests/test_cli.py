"""The command line: one test per class of user error (message, location,
exit code 2, no traceback), then check, --verify, show and fmt (the demo: tests/test_demo.py)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from conftest import ROOT, run

from axes.base import CAUSAL
from grid_dsl.cli import spec as cli
from model.cli import main as entry
from grid_dsl.data.inputs import SAMPLE_PATH
from grid_dsl import load_spec
from grid_dsl.language.formatter import format_text

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def spec(tmp_path):
    """Write a spec file and return its path."""

    def write(text: str, name: str = "s.axes") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def check_error(capsys, path, line, col, message, hint=None):
    """`multigrid check` reports `message` at path:line:col and exits 2."""
    code, out, err = run(capsys, "check", path)
    assert code == 2 and out == ""
    assert f"{path}:{line}:{col}: error: {message}" in err
    if hint is not None:
        assert f"hint: {hint}" in err
    return err


# ---------------------------------------------------------------- errors


def test_syntax_error_shows_the_line_a_caret_and_the_expected_tokens(capsys, spec):
    path = spec('group w = words\nlexicon x {\n  "a" -> \n}\n')
    err = check_error(capsys, path, 4, 1, "unexpected '}'")
    assert "\n    }\n    ^\n" in err
    hint = err.split("hint: ")[1]
    assert hint.startswith("expected") and "a name" in hint and 'a "string"' in hint


def test_unknown_reference_suggests_a_name(capsys, spec):
    path = spec("group words = words\nlag prev = wrods after words\n")
    check_error(capsys, path, 2, 12, "unknown axis 'wrods'", "did you mean 'words'?")


def test_duplicate_names(capsys, spec):
    path = spec("group w = words\ngroup w = tokens\n")
    check_error(capsys, path, 2, 1, "duplicate axis name 'w'", f"first declared at {path}:1:1; rename one")


def test_reference_cycle_names_the_cycle(capsys, spec):
    path = spec("lag a = b by 1 chars\nlag b = a by 1 chars\n")
    err = check_error(capsys, path, 1, 1, "reference cycle: ")
    cycle = re.search(r"reference cycle: (.*)", err).group(1).split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b"}


def test_include_cycle_names_the_files_and_missing_includes_are_located(capsys, spec):
    spec('include "b.axes"\n', "a.axes")
    b = spec('group w = words\ninclude "a.axes"\n', "b.axes")
    code, _, err = run(capsys, "check", b.parent / "a.axes")
    assert code == 2 and f"{b}:2:1: error: include cycle: a.axes -> b.axes -> a.axes" in err
    missing = spec('group w = words\ninclude "nope.axes"\n', "c.axes")
    check_error(capsys, missing, 2, 9, f"included file not found: {missing.parent / 'nope.axes'}",
                "include paths are relative to the including file")


def test_invalid_regex_points_inside_the_pattern(capsys, spec):
    path = spec("group w = words\ngroup m = matches /ab)c/\n")
    err = check_error(capsys, path, 2, 22, "invalid regular expression: unbalanced parenthesis")
    assert "    group m = matches /ab)c/\n                         ^\n" in err


def test_a_pattern_that_backtracks_catastrophically_is_stopped_and_located(capsys, spec, monkeypatch):
    monkeypatch.setenv("MULTIGRID_REGEX_TIMEOUT", "0.05")
    path = spec("# slow\ngroup g = matches /(a|aa)+b/\n")
    code, out, err = run(capsys, "check", path, "--text", "a" * 60 + "c")
    assert code == 2
    assert f"{path}:2:19: error: a pattern of axis 'g' took more than 0.05 s to match" in err
    assert "hint: it probably backtracks catastrophically" in err


def test_unknown_plugin(capsys, spec):
    path = spec("group w = words\ntagger ents = char_clas\n")
    err = check_error(capsys, path, 2, 15, "unknown tagger plug-in 'char_clas' (installed: char_class)",
                      "did you mean 'char_class'?")
    assert "    tagger ents = char_clas\n                  ^^^^^^^^^\n" in err


def test_context_mode_on_a_non_causal_axis_suggests_the_fix(capsys, spec):
    path = spec("group paras = paragraphs\nfeed paras as context\n")
    err = check_error(capsys, path, 2, 1, "context mode needs a causal axis, and 'paras' looks ahead")
    assert "use `feed paras as predict`" in err and "(force)" in err


def test_vocabulary_that_does_not_fit_the_dtype(capsys, spec):
    path = spec(
        "group w = words\nposition a = w (max=20)\nposition b = w (max=20)\nproduct ab = a * b\n"
        "feed ab as predict (dtype=uint8)\n"
    )
    check_error(capsys, path, 5, 20, "axis 'ab' has 484 labels (with id 0), which do not fit uint8",
                "use a larger dtype, or fewer labels (relabel, or a product of smaller axes)")


def test_several_errors_are_all_reported(capsys, spec):
    path = spec("group w = words\ngroup w = tokens\nposition p = wrods\ngroup m = matches /a**/\nfeed zz as predict\n")
    code, _, err = run(capsys, "check", path)
    assert code == 2
    located = re.findall(rf"^{re.escape(str(path))}:(\d+):\d+: error: ", err, re.M)
    assert sorted(map(int, located)) == [2, 3, 4, 5]


def test_several_syntax_errors_are_all_reported(capsys, spec):
    path = spec("group w = words (label=)\nposition p = w (max=)\nlag l = w by x chars\n")
    code, _, err = run(capsys, "check", path)
    assert code == 2 and len(re.findall(r": error: unexpected", err)) == 3


def test_file_and_argument_errors_exit_2_without_a_traceback(capsys, spec, tmp_path):
    path = spec("group words = words\n")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    cases = [
        (["check", tmp_path / "none.axes"], "spec file not found"),
        (["check", tmp_path], "spec file is a directory"),
        (["check", path, "--file", tmp_path / "none.txt"], "text file not found"),
        (["check", path, "--file", latin1], "is not UTF-8 text (byte 0xe9 at offset 3)"),
        (["check", path, "--spans", tmp_path / "none.jsonl"], "spans file not found"),
        (["show", path, "--text", "a b", "--axes", "wrods"], "unknown axis 'wrods' in --axes; did you mean 'words'?"),
        (["show", path, "--text", "a b", "--axes", "words,"], "empty axis name"),
        (["show", path, "--text", "a b", "--width", "5"], "must be at least 20 columns"),
        (["show", path, "--text", "a b", "--width", "wide"], "expected a whole number"),
        (["show", path], "one of the arguments --text --file is required"),
        (["check", path, "--text", "a", "--file", latin1], "not allowed with argument"),
        (["check", path, "--cuts", "0"], "must be at least 1"),
        (["check", path, "--seed", "-1"], "must be 0 or more"),
        (["frobnicate"], "invalid choice"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2 and message in err, (argv, err)


def test_bad_annotation_records_are_located(capsys, spec, tmp_path):
    path = spec("annotation roles (labels=[HERO])\n")
    spans = tmp_path / "bad.jsonl"
    spans.write_text('{"layer": "role", "start": 0, "end": 3, "label": "HERO"}\n{"layer": "roles", "start": 5}\n')
    code, _, err = run(capsys, "check", path, "--text", "the king", "--spans", spans)
    assert code == 2 and f"{spans}:2:1: error: bad annotation record" in err


def test_errors_from_a_real_process():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "model.cli", "check", "-"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 2 and "spec file not found: -" in done.stderr and "Traceback" not in done.stderr


# ----------------------------------------------------------------- check

TABLE_SPEC = (
    "group words = words\ngroup paras = paragraphs\nposition pos = words (max=4)\n"
    "lag prev = words after words\nfeed pos as context\nfeed paras as predict\n"
)


def table_rows(out: str) -> dict[str, list[str]]:
    lines = out.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("axis "))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_check_prints_a_table_of_axes(capsys, spec):
    path = spec(TABLE_SPEC)
    code, out, err = run(capsys, "check", path, "--text", "ab cd\n\nefg")
    assert code == 0 and err == ""
    rows = table_rows(out)
    assert list(rows) == ["words", "paras", "pos", "prev"]
    assert rows["words"] == ["words", "group", "1", "yes", "-", "70.0%", "WORD 70.0%"]
    assert rows["paras"][:6] == ["paras", "group", "1", "no: unbounded", "predict", "80.0%"]
    assert rows["pos"] == ["pos", "view", "5", "yes", "context", "70.0%", "0 30.0%, 1 30.0%, 2 10.0%"]
    assert rows["prev"][4] == "-"
    assert "paras: a paragraph ends at a blank line, seen only after it" in out
    assert "honest: predict axes (paras) count in bpc_joint" in out and "LEAKY" not in out


def test_check_says_when_a_run_is_leaky(capsys, spec):
    path = spec("group paras = paragraphs\nfeed paras as context (force)\n")
    code, out, err = run(capsys, "check", path)
    assert code == 0
    assert table_rows(out)["paras"][4] == "oracle (forced)"
    assert "LEAKY: paras (forced context) fed as oracle" in out
    assert f"{path}:2:1: warning: 'paras' is not causal; forced context makes this run oracle (leaky)" in err


def test_check_reads_a_file_without_its_bom_and_the_built_in_sample(capsys, spec, tmp_path):
    path = spec("group words = words\n")
    text = tmp_path / "t.txt"
    text.write_text("\ufeffab", encoding="utf-8")
    code, out, _ = run(capsys, "check", path, "--file", text)
    assert code == 0 and "2 characters" in out and table_rows(out)["words"][5] == "100.0%"
    code, out, _ = run(capsys, "check", path)
    assert code == 0 and "built-in sample" in out and f"{len(SAMPLE_PATH.read_text()):,} characters" in out


def test_verify_confirms_a_causal_spec(capsys, spec):
    path = spec(TABLE_SPEC + "group stops = matches /[.!?]/\n")
    code, out, err = run(capsys, "check", path, "--verify", "--cuts", "40")
    assert code == 0
    rows = table_rows(out)
    assert rows["words"][-1] == rows["pos"][-1] == rows["prev"][-1] == "causal (confirmed)"
    assert rows["paras"][-1] == "non-causal (confirmed)"
    # declared non-causal (a regex may look ahead) but never caught: a warning, not a failure
    assert rows["stops"][-1] == "non-causal (no counterexample in 40 cuts)"
    assert "warning: axis 'stops' is declared non-causal" in err
    assert "every axis declared causal is prefix-stable at 40 cut points" in out


def test_verify_fails_loudly_when_a_causal_declaration_is_wrong(capsys, spec, monkeypatch):
    path = spec("group words = words\ngroup paras = paragraphs\n")
    real = cli.load_plan

    def lying_plan(p):  # paragraphs claimed causal: the prefix check must catch it
        plan = real(p)
        axes = tuple(attrs.evolve(a, lookahead=CAUSAL) if a.name == "paras" else a for a in plan.axes)
        return attrs.evolve(plan, axes=axes)

    monkeypatch.setattr(cli, "load_plan", lying_plan)
    code, out, err = run(capsys, "check", path, "--verify")
    assert code == 1
    assert table_rows(out)["paras"][-1] == "VIOLATION: looks ahead"
    assert "error: axis 'paras' is declared causal but its labels change when the text is cut" in err
    assert re.search(r"cut at \d+, position \d+: the whole document gives 'PARA', the prefix gives '_'", err)
    assert "context: " in err and "‖" in err
    assert "verify FAILED: 1 axis(es) declared causal look ahead: paras" in err


def test_verify_reads_annotations_beside_the_file(capsys, spec, tmp_path):
    path = spec("annotation roles (layer=role, labels=[HERO])\nfeed roles as predict\n")
    text = tmp_path / "t.txt"
    text.write_text("the king came")
    (tmp_path / "t.txt.spans.jsonl").write_text('{"layer": "role", "start": 4, "end": 8, "label": "HERO"}\n')
    code, out, err = run(capsys, "check", path, "--file", text, "--verify")
    assert code == 0
    assert table_rows(out)["roles"][5:7] == ["30.8%", "HERO 30.8%"]
    assert "warning: axis 'roles' is declared non-causal" in err


# ------------------------------------------------------------------ show


def test_show_aligns_rows_and_is_plain_when_piped(capsys, spec):
    path = spec("group words = words\ngroup tokens = tokens\nposition pos = words\n")
    code, out, _ = run(capsys, "show", path, "--text", "Once upon a time, said Mr. Fox.\n" * 3, "--width", "30")
    assert code == 0 and "\x1b[" not in out
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 5  # 96 characters, 23 per block beside a 7-column gutter
    for block in blocks:
        lines = block.split("\n")
        assert [line.split(" ")[0] for line in lines] == ["text", "words", "tokens", "pos"]
        assert len({len(line) for line in lines}) == 1


def test_show_colours_on_request_and_chooses_axes(capsys, spec, monkeypatch):
    path = spec("group words = words\ngroup tokens = tokens\n")
    code, out, _ = run(capsys, "show", path, "--text", "ab cd", "--axes", "tokens", "--color")
    assert code == 0 and "\x1b[" in out
    assert ANSI.sub("", out) == "text   ab cd\ntokens TO TO\n"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli.use_color(None) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm")
    assert cli.use_color(None) is True and cli.use_color(False) is False


def test_show_in_a_real_pipe_is_plain(spec):
    path = spec("group words = words\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="40")
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "model.cli", "show", str(path), "--text", "Hello there"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert done.returncode == 0 and done.stdout == "text  Hello there\nwords WORD· WORD·\n"


# ------------------------------------------------------------------- fmt


def test_fmt_check_exit_codes(capsys, spec):
    messy = "# words first\ngroup   w=words   # trailing\nfeed w   as predict(weight=0.5)\n"
    path = spec(messy)
    canonical = format_text(messy, str(path))
    assert canonical != messy and "# words first" in canonical and "# trailing" in canonical
    code, out, _ = run(capsys, "fmt", path, "--check")
    assert (code, out) == (1, f"{path}\n") and path.read_text() == messy
    code, _, err = run(capsys, "fmt", path)
    assert code == 0 and path.read_text() == canonical and f"reformatted {path}" in err
    code, out, _ = run(capsys, "fmt", path, "--check")
    assert (code, out) == (0, "")
    assert load_spec(path).names == ("w",)


def test_fmt_syntax_error_exits_2(capsys, spec):
    path = spec("group w = \n")
    code, _, err = run(capsys, "fmt", path, "--check")
    assert code == 2 and f"{path}:2:1: error: unexpected end of file" in err


def test_the_command_line_starts_without_torch_or_nltk(tmp_path):
    """`--help`, `fmt` and `check` of a spec without NLTK axes import neither
    torch nor NLTK (which pulls scikit-learn and SciPy): they answer at once
    (benchmarks/bench_startup.py times them)."""
    import subprocess
    import sys

    spec = tmp_path / "s.axes"
    spec.write_text("group w = words\nposition p = w\nfeed p as context\n")
    probe = ("import sys, contextlib, io\nfrom model.cli import main as cli\n"
             "for argv in (['--help'], ['fmt', '--check', sys.argv[1]], ['check', sys.argv[1]]):\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n"
             "        cli.main(argv)\n"
             "heavy = sorted(m for m in ('torch', 'nltk', 'sklearn', 'scipy') if m in sys.modules)\n"
             "print(heavy)\n")
    done = subprocess.run([sys.executable, "-c", probe, str(spec)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_bare_command_prints_the_help_and_version_answers(capsys):
    code, out, err = run(capsys)
    assert code == 0 and out.startswith("usage: multigrid") and "COMMAND" in out and err == ""
    assert entry.main(["--version"]) == 0 and capsys.readouterr().out.startswith("multigrid ")


@pytest.mark.parametrize("argv, hint", [
    (["--max_iters=10"], "write max_iters=10"),
    (["--n-layer", "3"], "write n_layer=3"),
    (["--learning_rate"], "write learning_rate=N"),
])
def test_a_training_key_written_as_an_option_gets_the_usage_and_the_hint(capsys, argv, hint):
    code, out, err = run(capsys, "train", "--data", "d", "--out", "r", *argv)
    assert code == 2 and err.startswith("usage: multigrid train") and hint in err and "key=value" in err


def test_an_option_of_the_command_is_not_taken_for_a_key(capsys, tmp_path):
    # `sample --seed` is sample's own option; `seed` is also a training key
    code, out, err = run(capsys, "sample", tmp_path / "missing", "--seed", "3")
    assert code == 2 and "written key=value" not in err


def test_train_help_lists_every_key_with_its_default_and_meaning(capsys):
    import attrs

    from model.network.config import TrainConfig

    assert entry.main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for field in attrs.fields(TrainConfig):
        assert f"  {field.name}=" in out, field.name
    assert "max_iters=2000" in out and "optimizer steps (the step budget)" in out
    assert "prefix_check=2000" in out


def test_a_spec_byte_that_is_not_utf8_is_located_with_the_line_shown(capsys, tmp_path):
    path = tmp_path / "b.axes"
    path.write_bytes(b'group w = words\nlexicon x { "k\xffing" -> K }\n')
    for command in (["check", path], ["fmt", "--check", path], ["show", path, "--text", "a"]):
        code, out, err = run(capsys, *command)
        assert code == 2
        assert err.startswith(f"{path}:2:15: error: byte 0xff is not UTF-8 text"), err
        assert 'lexicon x { "k\\xffing" -> K }' in err and "^^^^" in err and "save the spec as UTF-8" in err
