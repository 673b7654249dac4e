"""The spec fuzzer, longer than the test suite runs it: N mutated specs through `multigrid check`.

    python benchmarks/fuzz_specs.py            # 1,000 specs
    python benchmarks/fuzz_specs.py --n 5000 --seed 3

Each spec is a seed spec of the repository (the demo's, examples/royal.axes and
the experiments' long-range and addition specs) broken by 1-3 mutations of
grid_dsl.testing.mutated_specs, written to a file and checked in this process
with a regex timeout of 0.5 s. A spec must be accepted (exit 0) or refused with
exit 2 and a `file:line:col` location, never a traceback; every failure is
printed with its bytes. Rows: specs checked, accepted, refused, failures
(target 0), the slowest spec (target <= 20 s) and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ["MULTIGRID_REGEX_TIMEOUT"] = "0.5"
os.environ.setdefault("MULTIGRID_NO_DOWNLOAD", "1")


def rows(n: int = 1000, seed: int = 0) -> list[dict]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from grid_dsl.testing import mutated_specs
    from test_fuzz import SEEDS, check_bytes

    codes, slowest, failures = [], 0.0, []

    @hypothesis_seed(seed)
    @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated_specs(SEEDS))
    def run(data):
        nonlocal slowest
        code, err, seconds = check_bytes(data)
        codes.append(code)
        slowest = max(slowest, seconds)
        located = code != 2 or re.search(r"^fuzzed\.axes:\d+:\d+: error: ", err, re.M)
        if "Traceback" in err or code not in (0, 2) or not located:
            failures.append((data, code, err[-400:]))

    run()
    for data, code, err in failures:
        print(f"FAILURE (exit {code}): {data[:300]!r}\n{err}", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        {"name": "mutated specs checked", "value": len(codes), "unit": "specs", "target": None},
        {"name": "accepted (exit 0)", "value": codes.count(0), "unit": "specs", "target": None},
        {"name": "refused, located (exit 2)", "value": codes.count(2), "unit": "specs", "target": None},
        {"name": "failures: traceback, other exit or no location", "value": len(failures), "unit": "specs", "target": 0},
        {"name": "slowest spec", "value": slowest, "unit": "s", "target": 20.0},
        {"name": "peak RSS of the process", "value": peak_mb, "unit": "MB", "target": None},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for r in rows(args.n, args.seed):
        target = "" if r["target"] is None else f"  (target <= {r['target']:g})"
        print(f"{r['name']:<48} {r['value']:>10,.2f} {r['unit']}{target}")


if __name__ == "__main__":
    main()
