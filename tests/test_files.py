"""grid_dsl.data.files: the one atomic file writer (checkpoints, metrics, reports, specs)."""

import os

import pytest

from grid_dsl.data.files import write_atomically, write_json_atomically


def test_text_bytes_and_writers_replace_the_file_whole(tmp_path):
    path = tmp_path / "out.txt"
    write_atomically(path, "ünïcode\n")
    assert path.read_text(encoding="utf-8") == "ünïcode\n"
    write_atomically(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    write_atomically(path, writer=lambda f: f.write(b"from a writer"))
    assert path.read_bytes() == b"from a writer"
    write_json_atomically(path, {"a": "é", "b": [1]})
    assert path.read_text(encoding="utf-8") == '{\n "a": "é",\n "b": [\n  1\n ]\n}\n'
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]  # no temporary file left


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    write_atomically(path, "old")

    def broken(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, writer=broken)
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["state.json"]


def test_data_or_a_writer_not_both(tmp_path):
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "x", "a", writer=lambda f: None)
    with pytest.raises(TypeError):
        write_atomically(tmp_path / "x")
