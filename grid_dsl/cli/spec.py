"""multigrid check, show and fmt: look at and tidy .axes specs.

    multigrid check SPEC [--text T | --file F] [--spans JSONL] [--verify] [--cuts N] [--seed S]
    multigrid show SPEC (--text T | --file F) [--axes a,b] [--width N] [--spans JSONL] [--color | --no-color]
    multigrid fmt SPEC... [--check]

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
import os
import shutil
import sys
from pathlib import Path

from grid_dsl.cli import argtypes
from grid_dsl.data.inputs import SAMPLE_PATH, load_plan, print_warnings, read_bytes, read_file
from grid_dsl.language.diagnostics import SpecError, UserError, did_you_mean


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


# ---------------------------------------------------------------- commands


def run_check(args) -> int:
    plan = load_plan(args.spec)
    print_warnings(plan)
    text, source = read_sample(args)
    return check_report(plan, args.spec, text, source, read_annotations(args), args.verify, args.cuts, args.seed)


def check_report(plan, spec_name: str, text: str, source: str, annotations, verifying: bool, cuts: int, seed: int) -> int:
    """Print the table of axes on `text` (and the causality verdicts);
    1 when an axis declared causal was caught looking ahead."""
    from grid_dsl.data.causality import verify
    from grid_dsl.data.compiler import compile_text
    from grid_dsl.data.report import axis_table, causal_text, summary

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
    from grid_dsl.data.compiler import compile_text

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
    from grid_dsl.language.formatter import format_text
    from grid_dsl.language.parser import decode_spec

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


def _width(value: str) -> int:
    number = argtypes.positive(value)
    if number < 20:
        raise argparse.ArgumentTypeError(f"must be at least 20 columns, got {number}")
    return number


def add_commands(commands) -> None:
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
