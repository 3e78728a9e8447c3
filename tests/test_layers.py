"""The package's structure: the layers contract holds, there is no import cycle, and the CLI answers help and
config errors without importing torch or transformers (the start-up figures: benchmarks/bench_startup.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layers_contract_holds():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_no_import_cycle():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("xlprompt", exclude_type_checking_imports=True)
    # a cycle is a module that can reach itself; lazy imports inside functions count too
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            assert chain is None, f"import cycle: {module} -> {' -> '.join(chain)}"


def test_the_config_module_imports_no_method_and_no_task():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("xlprompt", exclude_type_checking_imports=True)
    for upper in ("xlprompt.methods", "xlprompt.tasks", "xlprompt.recipes"):
        assert not graph.chain_exists(importer="xlprompt.config", imported=upper, as_packages=True), upper


COMMANDS = [
    ["--help"],
    ["run", "--help"],
    ["run", "--help-config"],
    ["run", "--help-config", "--method", "dpa"],
    ["run", "--out", "OUT", "--set", "epoch=1"],
    ["run", "--out", "OUT", "--set", "alpha=2"],
    ["run", "--out", "OUT", "--method", "softmv", "--task", "pawsx"],
    ["sweep", "--help"],
    ["report", "--help"],
    ["predict", "--help"],
    ["export", "--help"],
    ["demo", "--help"],
    ["data", "--help"],
    ["data", "fetch", "--help"],
    ["data", "stats", "--help"],
]


def test_cli_help_and_config_errors_import_neither_torch_nor_transformers(tmp_path):
    script = (
        "import json, sys\n"
        "from xlprompt.cli import cli\n"
        "try:\n"
        "    cli.main(json.loads(sys.argv[1]), prog_name='xlprompt')\n"
        "except SystemExit as end:\n"
        "    code = end.code\n"
        "print(json.dumps({'code': code, 'heavy': [m for m in ('torch', 'transformers') if m in sys.modules]}))\n"
    )
    for args in COMMANDS:
        args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
        out = subprocess.run([sys.executable, "-c", script, json.dumps(args)], capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["heavy"] == [], (args, result)
        assert result["code"] in (0, 2), (args, out.stderr[-500:])
