"""The typed contract between data and model: manifests and checkpoint data
entries round-trip through their plain form, a record is read by attribute
only, and a dataset of another format version is refused by the CLI with
one line and exit code 2."""

import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grid_dsl.data import manifest as manifest_module
from grid_dsl.data.manifest import (FORMAT, AxisCheck, AxisEntry, CorpusEntry, MainEntry, Manifest, PrefixCheck,
                                    ShardEntry, SpecEntry, SplitRule, SplitSize, dumps_manifest)
from grid_dsl.data.records import Record, RecordError, VersionedRecord
from model.cli.main import main
from model.experiments import compare_plan, improve_state, tasks
from model.network import checkpoint, metrics
from model.network.checkpoint import DataEntry, ModelAxis
from test_dataset import compile_to

names = st.text(min_size=1, max_size=8)
texts = st.text(max_size=12)  # lone surrogates included: the manifest is ASCII JSON
counts = st.integers(0, 10**9)
modes = st.sampled_from([None, "context", "predict", "oracle"])
checks = st.builds(AxisCheck, cuts=counts, mismatches=counts, example=st.none() | texts)
axes = st.builds(AxisEntry, name=names, kind=names, vocab=st.lists(texts, max_size=5).map(tuple),
                 dtype=st.sampled_from(["uint8", "uint16", "uint32"]), causal=st.booleans(), lookahead=texts,
                 mode=modes, weight=st.floats(0, 100), dim=st.none() | st.integers(1, 512), forced=st.booleans(),
                 prefix_check=st.none() | checks)
mains = st.builds(MainEntry, unit=st.sampled_from(["chars", "bytes"]), dtype=st.sampled_from(["uint8", "uint16"]),
                  vocab=st.lists(st.characters() | st.integers(0, 255), max_size=8).map(tuple))
sizes = st.builds(SplitSize, tokens=counts, documents=counts)
manifests = st.builds(
    Manifest,
    spec=st.builds(SpecEntry, hash=texts, sources=st.dictionaries(names, texts, max_size=3)),
    corpus=st.builds(CorpusEntry, name=names, fingerprint=texts, documents=counts),
    split=st.builds(SplitRule, method=st.sampled_from(["documents", "contiguous"]), val_fraction=st.floats(0, 0.99),
                    seed=counts),
    main=mains, axes=st.lists(axes, max_size=4).map(tuple),
    splits=st.fixed_dictionaries({"train": sizes, "val": sizes}),
    leaky=st.booleans(), leaky_reason=st.none() | texts,
    prefix_check=st.none() | st.builds(PrefixCheck, cuts=counts, documents=counts, allow_leaks=st.booleans(),
                                       axes=st.dictionaries(names, checks, max_size=3)),
    library=st.fixed_dictionaries({"multigrid": texts}),
    shard=st.none() | st.builds(ShardEntry, index=counts, count=counts, documents=st.tuples(counts, counts)),
)


@given(manifests)
@settings(max_examples=60, deadline=None)
def test_a_manifest_round_trips_through_its_json(manifest):
    text = dumps_manifest(manifest)
    values = json.loads(text)
    assert list(values)[0] == "format" and values["format"] == FORMAT
    assert ("shard" in values) == (manifest.shard is not None)  # only a shard's manifest has the key
    assert Manifest.from_dict(values) == manifest
    assert dumps_manifest(Manifest.from_dict(values)) == text


@given(st.builds(DataEntry, path=texts, spec_hash=texts, spec_sources=st.none() | st.dictionaries(names, texts),
                 corpus=st.builds(CorpusEntry, name=names, fingerprint=texts, documents=counts),
                 unit=st.sampled_from(["chars", "bytes"]), main_vocab=st.lists(st.characters(), max_size=5).map(tuple),
                 axes=st.lists(st.builds(ModelAxis, name=names, kind=names, vocab=st.lists(texts).map(tuple),
                                         mode=modes.filter(bool), weight=st.floats(0, 100),
                                         dim=st.none() | st.integers(1, 64), causal=st.booleans(),
                                         prefix_failed=st.booleans()), max_size=3).map(tuple),
                 leaky=st.booleans()))
@settings(max_examples=40, deadline=None)
def test_a_checkpoint_data_entry_round_trips(entry):
    assert DataEntry.from_dict(entry.to_dict()) == entry


def test_records_have_no_string_keys():
    """Code that reads a file between stages (manifest, checkpoint, metrics, plan, loop state, task results) by key
    cannot work."""
    records = [cls for module in (manifest_module, checkpoint, metrics, compare_plan, improve_state, tasks) for cls in vars(module).values()
               if isinstance(cls, type) and issubclass(cls, Record) and cls not in (Record, VersionedRecord)]
    assert len(records) >= 27
    for cls in records:
        assert attrs.has(cls) and not hasattr(cls, "__getitem__") and not hasattr(cls, "get"), cls


def test_a_field_named_in_its_metadata_is_read_and_written_under_that_key():
    """A key that is no Python name ("from") is a field with another name."""
    values = {"by": "width", "key": "n_embd", "from": 32, "to": 28, "unmatched_parameters": 9, "baseline_parameters": 8}
    matched = compare_plan.Matched.from_dict(values)
    assert matched.from_ == 32 and matched.to_dict() == values
    with pytest.raises(RecordError, match="matched.from: expected int, found str"):
        compare_plan.Matched.from_dict({**values, "from": "32"}, "matched")
    with pytest.raises(RecordError, match="from_: unexpected key"):
        compare_plan.Matched.from_dict({**values, "from_": 32})


def test_an_int_is_a_float_but_a_bool_is_not_an_int():
    assert SplitRule.from_dict({"method": "documents", "val_fraction": 0, "seed": 1}).val_fraction == 0.0
    with pytest.raises(RecordError, match="seed: expected int, found bool"):
        SplitRule.from_dict({"method": "documents", "val_fraction": 0.1, "seed": True})
    with pytest.raises(RecordError, match=r"documents: expected 2 values, found 3"):
        ShardEntry.from_dict({"index": 0, "count": 2, "documents": [0, 1, 2]})


@pytest.mark.parametrize("found", ["multigrid-dataset/0", "multigrid-dataset/2"])
def test_stats_refuses_a_dataset_of_another_version_with_exit_2(tmp_path, capsys, found):
    compile_to(tmp_path / "ds")
    file = tmp_path / "ds" / "manifest.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), "format": found}))
    assert main(["stats", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (f"{file}: not a dataset this version of multigrid reads (format {found!r}, this version of multigrid "
            f"reads '{FORMAT}'); compile the dataset again with this version "
            f"(`multigrid compile SPEC CORPUS --out {tmp_path / 'ds'}`)") in err


def test_compile_replaces_a_dataset_of_another_version(tmp_path):
    compile_to(tmp_path / "ds")
    file = tmp_path / "ds" / "manifest.json"
    good = file.read_text()
    file.write_text(json.dumps({**json.loads(good), "format": "multigrid-dataset/0"}))
    compile_to(tmp_path / "ds")  # not "up to date": written again, in this version
    assert file.read_text() == good
