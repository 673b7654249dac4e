"""multigrid: the command line. This module: check, show and format .axes specs.

    multigrid check SPEC [--text T | --file F] [--spans JSONL] [--verify] [--cuts N] [--seed S]
    multigrid show SPEC (--text T | --file F) [--axes a,b] [--width N] [--spans JSONL] [--color | --no-color]
    multigrid fmt SPEC... [--check]
    multigrid demo                     (model/demo.py: the whole pipeline once)

`check` validates a spec and prints a table of its axes on a sample text
(the built-in sample, an excerpt of Andersen's tales, unless --text or --file
is given); `--verify` also confirms each axis's declared causality by
compiling prefixes of the sample. `show` draws the text with one aligned row
per axis. `fmt` rewrites specs in canonical form, keeping comments.

Exit codes: 0 success; 1 a check failed (an axis declared causal looked
ahead, or `fmt --check` would change a file); 2 a user error (an error in
the spec, an unreadable file, a bad argument), printed as a located message
on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
from pathlib import Path


from . import argtypes
from .diagnostics import SpecError, UserError, did_you_mean

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_PATH = PACKAGE_DIR / "sample.txt"
DEMO_SPEC_PATH = PACKAGE_DIR / "demo.axes"

# The commands of later stages live beside their code: each module named here
# has `add_commands(subparsers)`, adding parsers whose `run(args) -> int`
# raises UserError or SpecError for what a user can fix. Those modules import
# their heavy dependencies (torch) inside `run`, so `check` stays quick.
COMMAND_MODULES: tuple[str, ...] = ("grid_dsl.dataset_cli", "grid_dsl.stats", "model.cli", "model.sample_cli", "model.demo",
                                    "model.distill_cli", "model.improve_cli",
                                    "model.compare", "model.costs")


# ------------------------------------------------------------------ inputs


def read_bytes(path: str | Path, what: str) -> bytes:
    """A file's bytes (UserError when it cannot be read)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{what} is a directory, not a file: {path}") from None
    except OSError as err:
        raise UserError(f"cannot read {what} {path}: {err.strerror or err}") from None


def read_file(path: str | Path, what: str) -> str:
    """A UTF-8 text file, without a leading byte-order mark."""
    path = Path(path)
    data = read_bytes(path, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{what} {path} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start})") from None
    return text.removeprefix("\ufeff")


def load_plan(path: str):
    """Parse and check the spec at `path` (SpecError on errors in it)."""
    from .checker import check
    from .parser import parse, decode_spec

    return check(parse(decode_spec(read_bytes(path, "spec file"), str(path)), str(path)))


def read_sample(args) -> tuple[str, str]:
    """The text to compile and a short description of where it came from."""
    if getattr(args, "text", None) is not None:
        return args.text, "--text"
    if getattr(args, "file", None) is not None:
        return read_file(args.file, "text file"), args.file
    return read_file(SAMPLE_PATH, "built-in sample"), "built-in sample (Andersen)"


def read_annotations(args) -> dict | None:
    """Annotations of document 0: --spans, or FILE.spans.jsonl beside --file.
    Offsets count characters of the text after its byte-order mark."""
    from axes.annotation import read_spans_jsonl

    path = getattr(args, "spans", None)
    if path is None and getattr(args, "file", None) is not None:
        beside = Path(args.file + ".spans.jsonl")
        path = str(beside) if beside.is_file() else None
    if path is None:
        return None
    read_file(path, "spans file")  # reports a missing or unreadable file as a user error
    documents = read_spans_jsonl(path)
    layers = documents.get(0, documents.get("0"))
    if layers is None and documents:
        shown = ", ".join(map(repr, list(documents)[:5]))
        raise UserError(f"spans file {path} has no spans for document 0 (it has documents {shown})")
    return layers or {}


def print_warnings(plan) -> None:
    for warning in plan.warnings:
        print(warning.render(plan.sources), file=sys.stderr)


# ---------------------------------------------------------------- commands


def run_check(args) -> int:
    plan = load_plan(args.spec)
    print_warnings(plan)
    text, source = read_sample(args)
    return check_report(plan, args.spec, text, source, read_annotations(args), args.verify, args.cuts, args.seed)


def check_report(plan, spec_name: str, text: str, source: str, annotations, verifying: bool, cuts: int, seed: int) -> int:
    """Print the table of axes on `text` (and the causality verdicts);
    1 when an axis declared causal was caught looking ahead."""
    from .causality import verify
    from .compiler import compile_text
    from .report import axis_table, causal_text, summary

    grid = compile_text(plan, text, annotations)
    verdicts = verify(plan, text, cuts=cuts, seed=seed, annotations=annotations) if verifying else None
    main = plan.main
    options = [f"{k}={getattr(main, k)}" for k in ("normalize", "newlines") if getattr(main, k) not in ("none", "keep")]
    options += ["lowercase"] if main.lowercase else []
    print(f"{spec_name}: {len(plan.axes)} axes, {len(plan.feeds)} fed; main {main.unit}"
          + (f" ({', '.join(options)})" if options else ""))
    print(f"sample: {source}, {len(text):,} characters\n")
    print(axis_table(plan, grid, verdicts))
    print()
    for line in summary(plan):
        print(line)
    if verdicts is None:
        return 0
    failed = [v for v in verdicts if not v.ok]
    for v in verdicts:
        if not v.declared_causal and v.counterexample is None:
            print(f"warning: axis '{v.axis}' is declared non-causal ({causal_text(plan.axis(v.axis))}), "
                  f"but no counterexample was found in {v.cuts} cuts; try a longer sample or more --cuts",
                  file=sys.stderr)
    for v in failed:
        print(f"error: axis '{v.axis}' is declared causal but its labels change when the text is cut:\n"
              f"  {v.counterexample.describe()}", file=sys.stderr)
    if failed:
        print(f"verify FAILED: {len(failed)} axis(es) declared causal look ahead: "
              f"{', '.join(v.axis for v in failed)}", file=sys.stderr)
        return 1
    print(f"verify: every axis declared causal is prefix-stable at {verdicts[0].cuts if verdicts else 0} cut points")
    return 0


def run_show(args) -> int:
    plan = load_plan(args.spec)
    print_warnings(plan)
    names = parse_axes(args.axes, plan.names) if args.axes is not None else None
    text, _ = read_sample(args)
    from .compiler import compile_text

    grid = compile_text(plan, text, read_annotations(args))
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    print(grid.render(names, width=width, color=use_color(args.color)))
    return 0


def parse_axes(value: str, known) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    for name in names:
        if not name:
            raise UserError(f"--axes {value!r}: empty axis name (write --axes a,b)")
        if name not in known:
            hint = did_you_mean(name, known) or f"the axes are: {', '.join(known)}"
            raise UserError(f"unknown axis {name!r} in --axes; {hint}")
    return names


def use_color(requested: bool | None) -> bool:
    """--color / --no-color, or colour only on a terminal that allows it."""
    if requested is not None:
        return requested
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def run_fmt(args) -> int:
    from .formatter import format_text
    from .parser import decode_spec

    changed, errors = [], []
    for spec in args.specs:
        try:
            text = decode_spec(read_bytes(spec, "spec file"), spec)
            formatted = format_text(text, spec)
        except SpecError as err:
            errors.append(err)
            continue
        if formatted != text:
            changed.append(spec)
            if not args.check:
                Path(spec).write_text(formatted, encoding="utf-8")
                print(f"reformatted {spec}", file=sys.stderr)
    for err in errors:
        print(err.render(), file=sys.stderr)
    if errors:
        return 2
    if args.check:
        for spec in changed:
            print(spec)
        return 1 if changed else 0
    return 0


# ------------------------------------------------------------------ parser


def _width(value: str) -> int:
    number = argtypes.positive(value)
    if number < 20:
        raise argparse.ArgumentTypeError(f"must be at least 20 columns, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="multigrid", description="MultiGrid: .axes specs, compiled grids, grid transformers and the experiments that test them.")
    parser.add_argument("--version", action="version", version=f"multigrid {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_text_source(cmd, required: bool):
        source = cmd.add_mutually_exclusive_group(required=required)
        source.add_argument("--text", metavar="T", help="the text to compile")
        source.add_argument("--file", metavar="F", help="a UTF-8 text file to compile (annotations: F.spans.jsonl)")
        cmd.add_argument("--spans", metavar="JSONL", help="annotations for the text (document 0 of a .spans.jsonl file)")

    check_cmd = commands.add_parser("check", help="validate a spec and tabulate its axes on a sample")
    check_cmd.add_argument("spec", metavar="SPEC")
    add_text_source(check_cmd, required=False)
    check_cmd.add_argument("--verify", action="store_true", help="confirm declared causality by compiling prefixes")
    check_cmd.add_argument("--cuts", type=argtypes.positive, default=64, metavar="N", help="cut points for --verify (64)")
    check_cmd.add_argument("--seed", type=argtypes.seed, default=0, metavar="S", help="seed of the cut points (0)")
    check_cmd.set_defaults(run=run_check)

    show_cmd = commands.add_parser("show", help="draw a text with one aligned row per axis")
    show_cmd.add_argument("spec", metavar="SPEC")
    add_text_source(show_cmd, required=True)
    show_cmd.add_argument("--axes", metavar="A,B", help="the axes to show, in order (default: all)")
    show_cmd.add_argument("--width", type=_width, metavar="N", help="columns (default: the terminal's)")
    show_cmd.add_argument("--color", action=argparse.BooleanOptionalAction, default=None,
                          help="colour the labels (default: on a terminal, unless NO_COLOR is set)")
    show_cmd.set_defaults(run=run_show)

    fmt_cmd = commands.add_parser("fmt", help="rewrite specs in canonical form, keeping comments")
    fmt_cmd.add_argument("specs", nargs="+", metavar="SPEC")
    fmt_cmd.add_argument("--check", action="store_true", help="write nothing; list the files that would change (exit 1)")
    fmt_cmd.set_defaults(run=run_fmt)

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `multigrid`: what it can do
        parser.print_help()
        return 0
    command = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction))).choices.get(argv[0])
    hint = _config_key_as_option(argv, command) if command else ""
    if hint:
        command.print_usage(sys.stderr)
        print(f"multigrid {argv[0]}: error: {hint}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.run(args)
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        return 2
    except UserError as err:
        print(f"multigrid: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `multigrid show ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("multigrid")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "(not installed)"


def _config_key_as_option(argv: list[str], command: argparse.ArgumentParser) -> str:
    """The hint for a training key written as an option (`--max_iters=10`,
    nanoGPT's style) to a command that takes key=value overrides and has no
    such option of its own."""
    keys = getattr(command, "config_keys", None)  # set by model.config.add_overrides
    if not keys:
        return ""
    own = {option for action in command._actions for option in action.option_strings}
    for i, arg in enumerate(argv):
        name, _, value = arg[2:].partition("=")
        if arg.startswith("--") and name.replace("-", "_") in keys and arg.split("=")[0] not in own:
            value = value or (argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("-") else "N")
            key = name.replace("-", "_")
            return f"training keys are written key=value, not as options: write {key}={value} (see `multigrid {argv[0]} --help`)"
    return ""


if __name__ == "__main__":
    sys.exit(main())
