"""Bad input never takes the tool down: mutated specs (grid_dsl.testing.mutated_specs)
are accepted, or refused with exit code 2 and a file:line:col location, never a
traceback, within a time and memory bound. benchmarks/fuzz_specs.py runs many more."""

import contextlib
import io
import os
import re
import resource
import tempfile
import time
from pathlib import Path

from conftest import ROOT
from hypothesis import HealthCheck, given, settings

from grid_dsl.testing import mutated_specs
from model.cli.main import main

SEEDS = [(ROOT / "grid_dsl" / "data" / "demo.axes").read_text(), (ROOT / "examples" / "royal.axes").read_text(),
         (ROOT / "examples" / "experiments" / "longrange" / "synthetic.axes").read_text(),
         (ROOT / "examples" / "experiments" / "tasks" / "addition_offset.axes").read_text()]
SECONDS = 20  # per spec, a catastrophic pattern included (the regex timeout is lowered below)


def check_bytes(data: bytes) -> tuple[int, str, float]:
    """`multigrid check` of the bytes as a spec file: (exit code, stderr, seconds)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.axes"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", str(path)])
        return code, err.getvalue().replace(str(path), "fuzzed.axes"), time.perf_counter() - start


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_specs(SEEDS))
def test_a_mutated_spec_is_accepted_or_refused_with_a_location(data):
    previous = os.environ.get("MULTIGRID_REGEX_TIMEOUT")
    os.environ["MULTIGRID_REGEX_TIMEOUT"] = "0.5"
    try:
        code, err, seconds = check_bytes(data)
    finally:
        os.environ.pop("MULTIGRID_REGEX_TIMEOUT") if previous is None else os.environ.update(MULTIGRID_REGEX_TIMEOUT=previous)
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        assert re.search(r"^fuzzed\.axes:\d+:\d+: error: ", err, re.M), err
    assert seconds < SECONDS
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 4_000_000  # KiB: the process stays under 4 GB


def test_the_mutations_reach_every_kind_of_damage():
    """Not all mutations are refusals, and not all are accepted: the fuzzer tests both paths."""
    from hypothesis import Phase, seed

    codes = []

    @seed(7)
    @settings(max_examples=60, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated_specs(SEEDS))
    def collect(data):
        codes.append(check_bytes(data)[0])

    collect()
    assert 0 in codes and 2 in codes
