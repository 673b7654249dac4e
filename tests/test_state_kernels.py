"""The vectorised kernels of the long-range operators (axes/_state.py)
against plain Python loops that say what they mean."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from axes import _state

ids_lists = st.lists(st.integers(0, 3), max_size=60)


def resets_for(n: int, starts: list[int]) -> np.ndarray:
    return _state.reset_marks(n, np.array([s for s in starts if s < n], dtype=np.int64))


def loop(ids, resets, step, start):
    """Run `step(state, position, id) -> (state, value)` left to right, resetting to `start`."""
    out, state = [], start
    for t, x in enumerate(ids):
        if resets[t]:
            state = start
        state, value = step(state, t, x)
        out.append(value)
    return out


@given(ids_lists, st.lists(st.integers(0, 60), max_size=5))
@settings(max_examples=300, deadline=None)
def test_kernels_equal_their_loops(ids, starts):
    ids = np.array(ids, dtype=np.int32)
    resets = resets_for(len(ids), starts)
    events = ids == 1
    assert _state.latest_ids(ids, resets).tolist() == loop(ids, resets, lambda s, t, x: (x or s, x or s), 0)
    assert _state.first_ids(ids, resets).tolist() == loop(ids, resets, lambda s, t, x: (s or x, s or x), 0)
    assert _state.count_events(events, resets).tolist() == loop(events, resets, lambda s, t, e: (s + e, s + e), 0)

    def since(last, t, e):
        last = t if e else last
        return last, (t - last if last >= 0 else -1)

    assert _state.distance_since(events, resets).tolist() == loop(events, resets, since, -1)


@given(ids_lists)
def test_run_bounds_are_the_maximal_runs_of_one_label(ids):
    ids = np.array(ids, dtype=np.int32)
    starts, ends = _state.run_bounds(ids)
    expected, t = [], 0
    while t < len(ids):
        if ids[t]:
            e = t
            while e < len(ids) and ids[e] == ids[t]:
                e += 1
            expected.append((t, e))
            t = e
        else:
            t += 1
    assert list(zip(starts.tolist(), ends.tolist())) == expected


def test_buckets():
    assert _state.log_labels(64) == ("0", "1", "2-3", "4-7", "8-15", "16-31", "32-63", "64+")
    assert _state.log_labels(50)[-1] == "32+"
    values = np.array([-1, 0, 1, 2, 3, 4, 63, 64, 1000])
    assert _state.bucket_ids(values, 64, "log").tolist() == [0, 1, 2, 3, 3, 4, 7, 8, 8]
    assert _state.bucket_ids(values, 3, "linear").tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4]
    assert [_state.bucket_value(x) for x in ("0", "4-7", "16+")] == [0, 4, 16]


@given(st.integers(1, 5000))
def test_every_value_falls_in_the_log_bucket_that_names_it(value):
    labels = _state.log_labels(256)
    label = labels[_state.bucket_ids(np.array([value]), 256, "log")[0] - 1]
    low = _state.bucket_value(label)
    high = int(label.split("-")[1]) if "-" in label else (low if label[-1] != "+" else 10**9)
    assert low <= value <= high
