"""The Ray executor's options (its runs on a multi-node cluster: ``test_ray_cluster.py``). Skipped where Ray is not
installed (``pip install 'xlprompt[ray]'``)."""

from __future__ import annotations

import pytest

from xlprompt.errors import ConfigError
from xlprompt.executors import RayExecutor, get_executor

ray = pytest.importorskip("ray")


def test_executor_names():
    assert get_executor("local").name == "local"
    assert get_executor("ray", num_cpus=2).name == "ray"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_retries": -1}, "--max-retries must be a whole number in [0, 100], not -1"),
        ({"max_retries": 1.5}, "--max-retries must be a whole number in [0, 100], not 1.5"),
        ({"run_folders": "nfs"}, "--ray-run-folders must be one of auto, shared, returned, not 'nfs'"),
        ({"max_in_flight": 0}, "max_in_flight must be a whole number >= 1, not 0"),
    ],
)
def test_ray_options_out_of_range_are_one_line(kwargs, message):
    with pytest.raises(ConfigError) as err:
        RayExecutor(**kwargs)
    assert str(err.value) == message


def test_ray_options_with_the_local_executor_are_refused(tmp_path):
    from click.testing import CliRunner

    from xlprompt.cli import cli

    sweep = tmp_path / "s.yaml"
    sweep.write_text("name: s\nbase: {model: 'random:tiny', data_dir: 'builtin:demo'}\n")
    for option in (["--max-retries", "2"], ["--ray-run-folders", "returned"]):
        result = CliRunner().invoke(cli, ["sweep", str(sweep), "--store", str(tmp_path / "r.db"), *option])
        assert result.exit_code == 2
        assert f"{option[0]} is for --executor ray" in result.output
