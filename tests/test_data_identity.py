"""A data folder is part of a run's identity by what the run reads from it, not by how its path is spelled.

The hash of a config that sets ``data_dir`` takes the digest of the files the run reads there (paths relative to
the folder, bytes): the same folder under other spellings, a symlink or a copy is one run; an edit of a file the
run reads is a new run; an edit of a file it does not read changes nothing. Every run records that digest, and
``run --out`` of a finished run refuses data changed since (the default folder too, whose spelling is not in the
hash).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from datafactory import write_data_dir

from xlprompt.cli import cli
from xlprompt.config import RunConfig


def config(data_dir, **overrides) -> RunConfig:
    values = dict(
        model="random:tiny",
        data_dir=data_dir,
        device="cpu",
        method="sp",
        shots=1,
        epochs=1,
        eval_languages="en,de",
    )
    values.update(overrides)
    return RunConfig(**values)


@pytest.fixture
def folder(tmp_path):
    return write_data_dir(tmp_path / "data", langs=("en", "de", "fr"), n_dev=6, n_test=6, ks=(1,))


def test_one_folder_under_any_spelling_or_place_is_one_run(folder, tmp_path, monkeypatch):
    first = config(str(folder)).resolved_hash()
    monkeypatch.chdir(folder.parent)
    (tmp_path / "link").symlink_to(folder)
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "copy")
    for spelling in (f"{folder}/", "data", "./data/", str(tmp_path / "link"), str(copy)):
        assert config(spelling).resolved_hash() == first, spelling
    # the spelling still decides nothing else: another config is another run
    assert config(str(folder), seed=2).resolved_hash() != first


def test_an_edit_of_a_file_the_run_reads_is_a_new_run_and_of_another_file_is_not(folder):
    before = config(str(folder)).resolved_hash()
    other = folder / "xnli" / "test" / "fr.tsv"  # fr is not evaluated: not read
    lines = other.read_text("utf-8").splitlines(keepends=True)
    other.write_text("".join(lines[:-1]), "utf-8")
    assert config(str(folder)).resolved_hash() == before
    read = folder / "xnli" / "test" / "de.tsv"
    lines = read.read_text("utf-8").splitlines(keepends=True)
    read.write_text("".join(lines[:-1]), "utf-8")  # one German test row fewer
    assert config(str(folder)).resolved_hash() != before
    # configs of the built-in sample and of the default folder keep their hashes (their data_dir is not a path)
    assert "data_dir" not in config("builtin:demo").input_digests()
    assert "data_dir" not in config(None).input_digests()


def test_run_out_of_a_finished_run_refuses_data_changed_since(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("XLPROMPT_DATA", str(folder))  # the default folder: its spelling is not in the hash
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--quiet"] + [
        f"--set={k}={v}"
        for k, v in dict(
            model="random:tiny", device="cpu", method="sp", shots=1, epochs=1, eval_languages="en,de"
        ).items()
    ]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    recorded = json.loads((out / "config.json").read_text("utf-8"))["inputs"]
    assert recorded["data"] == config(None).data_digest() and recorded["data"].startswith("sha256:")
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output  # unchanged data: the finished run is reused
    read = folder / "xnli" / "test" / "de.tsv"
    lines = read.read_text("utf-8").splitlines(keepends=True)
    read.write_text("".join(lines[:-1]), "utf-8")
    stale = CliRunner().invoke(cli, args)
    assert stale.exit_code == 2
    assert stale.output == (
        f"error: {out} holds a run of other data: the files it read from the data folder changed since it ran "
        "(`xlprompt data stats` checks them); its results are of the earlier data: use a new --out directory\n"
    )


def test_the_digest_names_missing_files_as_missing(folder):
    digest = config(str(folder)).data_digest()
    (folder / "xnli" / "test" / "de.tsv").unlink()
    assert config(str(folder)).data_digest() not in (None, digest)
    assert config(str(Path(folder) / "nowhere")).data_digest() is None  # no folder: nothing to digest


def test_a_sweep_refuses_finished_runs_whose_data_changed(folder, tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("XLPROMPT_DATA", str(folder))
    base = dict(model="random:tiny", device="cpu", method="sp", shots=1, epochs=1, eval_languages="en,de")
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(yaml.safe_dump({"name": "s", "base": base, "grid": {"seed": [1, 2]}}))
    args = ["sweep", str(sweep_file), "--store", str(tmp_path / "runs.db"), "--quiet"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert CliRunner().invoke(cli, args).exit_code == 0  # unchanged: both finished, nothing runs
    read = folder / "xnli" / "test" / "de.tsv"
    lines = read.read_text("utf-8").splitlines(keepends=True)
    read.write_text("".join(lines[:-1]), "utf-8")
    stale = CliRunner().invoke(cli, args)
    assert stale.exit_code == 2
    errors = [line for line in stale.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: 2 finished runs of this sweep (first: sp xnli k=1 seed=")
    assert errors[0].endswith(
        "read data files that changed since they ran; their results are of the earlier data: restore the data "
        "folder (`xlprompt data stats` and `xlprompt data fetch` check it), or use another --store"
    )


def test_a_model_or_tokenizer_folder_is_in_the_hash_by_its_files(tmp_path, monkeypatch):
    from conftest import XLMR_TOKENIZER_DIR

    if not XLMR_TOKENIZER_DIR.is_dir():
        pytest.skip("../shared/tokenizers/xlm-roberta absent")
    copy = shutil.copytree(XLMR_TOKENIZER_DIR, tmp_path / "tok")
    monkeypatch.chdir(tmp_path)
    hashes = {
        config("builtin:demo", tokenizer=spelling, model="random:xlm-roberta-base").resolved_hash()
        for spelling in (str(XLMR_TOKENIZER_DIR), str(copy), "tok", "./tok/")
    }
    assert len(hashes) == 1  # one tokenizer: its files, wherever they lie and however the path is spelled
    special = copy / "tokenizer_config.json"
    special.write_text(special.read_text("utf-8") + "\n", "utf-8")
    assert config("builtin:demo", tokenizer="tok", model="random:xlm-roberta-base").resolved_hash() not in hashes


def test_a_copy_that_keeps_size_and_mtime_is_still_seen(tmp_path):
    import os

    path = tmp_path / "words.txt"
    path.write_text("aaaa")
    from xlprompt.config import _content_digest

    first = _content_digest(str(path))
    stat = path.stat()
    path.write_text("bbbb")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime, as cp -p keeps it
    assert _content_digest(str(path)) != first
