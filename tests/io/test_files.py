"""Files as such: YAML in and out, folders, and the Dask scores dataset's files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from oncoresist.exceptions import OutputExistsError
from oncoresist.io.files import (
    YamlSyntaxError,
    make_folder,
    read_yaml,
    remove_folder,
    write_yaml,
)
from oncoresist.io.scores import (
    ERRORS,
    STAGING,
    SUCCESS,
    part_name,
    prepare_output,
    write_part_atomic,
    write_success_marker,
)


def test_yaml_round_trip_keeps_order_and_unicode(tmp_path):
    data = {"zeta": 1, "alpha": ["β-catenin", 2.5], "nested": {"b": None, "a": True}}
    path = write_yaml(tmp_path / "data.yaml", data)
    text = path.read_text(encoding="utf-8")
    assert text.index("zeta") < text.index("alpha") and "β-catenin" in text
    assert text == yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    assert read_yaml(path) == data
    assert list(read_yaml(path)) == ["zeta", "alpha", "nested"]


def test_empty_yaml_reads_as_none(tmp_path):
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert read_yaml(tmp_path / "empty.yaml") is None


def test_malformed_yaml_raises_the_parsers_message(tmp_path):
    text = "a: [1, 2\nb: 3\n"
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(yaml.YAMLError) as parser:
        yaml.safe_load(text)
    with pytest.raises(YamlSyntaxError) as caught:
        read_yaml(tmp_path / "bad.yaml")
    assert str(caught.value) == str(parser.value)
    assert isinstance(caught.value, yaml.YAMLError)  # callers catching yaml's error still do


def test_missing_and_non_utf8_yaml_keep_their_builtin_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_yaml(tmp_path / "absent.yaml")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        read_yaml(tmp_path / "latin1.yaml")


def test_make_and_remove_folder(tmp_path):
    folder = make_folder(tmp_path / "a" / "b")
    assert folder.is_dir() and make_folder(folder) == folder
    (folder / "file.txt").write_text("x")
    remove_folder(tmp_path / "a")
    assert not (tmp_path / "a").exists()
    remove_folder(tmp_path / "a")  # a missing folder is fine


def test_part_written_atomically_and_success_marker(tmp_path):
    frame = pd.DataFrame({"treatment_id": ["T1", "T2"], "p": [0.25, 0.75]})
    write_part_atomic(frame, tmp_path / part_name(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-00003.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "part-00003.parquet"), frame)
    marker = write_success_marker(tmp_path, {"n_read": 2, "engine": "dask"})
    assert marker == tmp_path / SUCCESS
    assert marker.read_text() == '{\n  "n_read": 2,\n  "engine": "dask"\n}\n'
    assert json.loads(marker.read_text()) == {"n_read": 2, "engine": "dask"}
    assert not list(tmp_path.glob(".*"))


def test_prepare_output_replaces_only_a_scores_dataset(tmp_path):
    out, errors = tmp_path / "out", tmp_path / "out" / ERRORS
    prepare_output(out, errors, overwrite=False)  # nothing there yet
    for name in (part_name(0), SUCCESS, ".part-00001.parquet.tmp"):
        make_folder(out)
        (out / name).write_text("x")
    make_folder(errors / STAGING)
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        prepare_output(out, errors, overwrite=False)
    prepare_output(out, errors, overwrite=True)
    assert not out.exists()

    make_folder(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"not part of a scores dataset \(notes\.txt\)"):
        prepare_output(out, errors, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"

    single = tmp_path / "scores.parquet"
    single.write_text("x")
    prepare_output(single, tmp_path / "none", overwrite=True)
    assert not single.exists()
