"""Every shipped example spec passes `multigrid check --verify` on Grimm's
tales: it checks, and each axis declared causal is prefix-stable on the
real text. The examples are also canonically formatted."""

from pathlib import Path

import pytest

from conftest import need_nltk
from model.cli import main as cli
from grid_dsl import load_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPECS = ["fairy_tales.axes", "causal_only.axes", "seed_replication.axes"]


@pytest.fixture(scope="module")
def grimm_file(grimm, tmp_path_factory):
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")
    path = tmp_path_factory.mktemp("corpus") / "grimm.txt"
    path.write_text(grimm, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS)
def test_example_passes_check_verify_on_grimm(spec, grimm_file, capsys):
    code = cli.main(["check", str(EXAMPLES / spec), "--file", str(grimm_file), "--verify"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "verify: every axis declared causal is prefix-stable at 64 cut points" in out
    assert "FAILED" not in err


def test_examples_are_canonically_formatted(capsys):
    assert cli.main(["fmt", "--check", *map(str, sorted(EXAMPLES.rglob("*.axes")))]) == 0


def test_the_experiment_specs_label_exactly_the_leaky_rows():
    """The recipes of examples/experiments: only the oracle and near-miss
    rows are leaky, and every honest context axis is causal."""
    need_nltk("punkt_tab", "averaged_perceptron_tagger_eng", "universal_tagset")  # the specs read part of speech
    leaky = {"oracle_affixes", "oracle_pos", "oracle_both", "leak_lookahead", "leak_boundary", "oracle", "addition_oracle"}
    specs = sorted((EXAMPLES / "experiments").rglob("*.axes"))
    assert len(specs) == 25
    for path in specs:
        plan = load_spec(path)
        assert plan.leaky == (path.stem in leaky), path
        assert all(plan.axis(f.axis).causal for f in plan.feeds if f.mode == "context" and not f.forced), path
    lookahead = load_spec(EXAMPLES / "experiments/prototype/leak_lookahead.axes").axis("ptb_after")
    boundary = load_spec(EXAMPLES / "experiments/prototype/leak_boundary.axes").axis("ptb_last")
    assert lookahead.lookahead.kind == "unbounded" and str(boundary.lookahead).startswith("1 char")
    # the hierarchical model refuses a non-causal boundary: the recipe's must all be causal
    boundaries = load_spec(EXAMPLES / "experiments/hierarchy/boundaries.axes")
    assert all(boundaries.axis(name).causal for name in ("words", "sentences"))


def test_the_honest_examples_feed_only_causal_axes_as_context_and_the_replication_is_leaky(grimm_file):
    for spec in ("fairy_tales.axes", "causal_only.axes"):
        plan = load_spec(EXAMPLES / spec)
        assert not plan.leaky
        assert all(plan.axis(f.axis).causal for f in plan.feeds if f.mode == "context")
    causal_only = load_spec(EXAMPLES / "causal_only.axes")
    assert {f.mode for f in causal_only.feeds} == {"context"}
    replication = load_spec(EXAMPLES / "seed_replication.axes")
    assert replication.leaky and {f.mode for f in replication.feeds} == {"oracle"}
    assert len(replication.axis("affixes").vocab) == 1 + 99  # "_" and the 99 affixes
