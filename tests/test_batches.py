"""Training batches: windows of block_size + 2 of the main stream and every
axis together, aligned; windows inside documents when asked; reproducible
fixed batches."""

import numpy as np
import pytest
import torch
from test_build import MANY
from test_dataset import compile_to

from grid_dsl.language.diagnostics import UserError
from model.training.batches import Batches


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return compile_to(tmp_path_factory.mktemp("batches") / "ds", texts=MANY, val_fraction=0.2)[1]


def test_shapes_and_alignment(ds):
    batches = Batches(ds, "train", block_size=8, batch_size=5)
    starts = batches.starts(torch.Generator().manual_seed(1))
    main, meta = batches.get(torch.Generator().manual_seed(1))
    assert main.shape == (5, 10) and meta.shape == (5, 10, 3)
    assert main.dtype == meta.dtype == torch.long
    for row, start in enumerate(starts):
        assert main[row].tolist() == ds.main("train")[start : start + 10].tolist()
        for k, name in enumerate(ds.axis_names):
            assert meta[row, :, k].tolist() == ds.axis("train", name)[start : start + 10].tolist()


def test_windows_cover_the_whole_split(ds):
    batches = Batches(ds, "val", block_size=4, batch_size=4096)
    starts = batches.starts(torch.Generator().manual_seed(0))
    assert starts.min() == 0 and starts.max() == ds.tokens("val") - 6 == batches.positions - 1


def test_windows_respect_documents(ds):
    batches = Batches(ds, "train", block_size=30, batch_size=2000, respect_documents=True)
    doc_starts = ds.doc_starts("train")
    ends = np.append(doc_starts[1:], ds.tokens("train"))
    valid = [s for a, b in zip(doc_starts, ends) for s in range(a, b - 32 + 1)]
    assert batches.positions == len(valid)
    assert batches.window_starts(np.arange(len(valid))).tolist() == valid  # every window inside one document
    starts = batches.starts(torch.Generator().manual_seed(0))
    assert set(starts.tolist()) <= set(valid) and len(set(starts.tolist())) > 1000
    main, _ = batches.at(starts[:50])
    assert all(any(ds.decode(row) in text for text in MANY) for row in main)  # each inside one document


def test_no_axes_gives_an_empty_meta(tmp_path):
    _, ds = compile_to(tmp_path / "ds", texts=MANY, spec="main chars\n", val_fraction=0)
    assert ds.axes == ()
    main, meta = Batches(ds, "train", 16, 3).get(torch.Generator().manual_seed(0))
    assert main.shape == (3, 18) and meta.shape == (3, 18, 0) and meta.dtype == torch.long


def test_fixed_batches_are_the_same_for_the_same_seed(ds):
    first = Batches(ds, "val", 8, 4).fixed(3, seed=5)
    again = Batches(ds, "val", 8, 4).fixed(3, seed=5)
    other = Batches(ds, "val", 8, 4).fixed(3, seed=6)
    assert len(first) == 3
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other))
    assert not torch.equal(first[0][0], first[1][0])  # successive batches differ


def test_too_short_a_split(ds):
    with pytest.raises(UserError, match=r"the val split of .* has no window of block_size \+ 2 = 10002 positions"):
        Batches(ds, "val", 10000, 2)
    longest = int(np.diff(np.append(ds.doc_starts("train"), ds.tokens("train"))).max())
    with pytest.raises(UserError, match="positions inside one document .*or respect_documents=False"):
        Batches(ds, "train", longest - 1, 2, respect_documents=True)
    Batches(ds, "train", longest - 2, 2, respect_documents=True)
