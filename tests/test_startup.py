"""Start-up stays fast: `topoform --help` and `validate` never import pulumi or the cloud SDKs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PROBE = """
import json, sys
from click.testing import CliRunner
from topoform.cli.main import cli
codes = [CliRunner().invoke(cli, args).exit_code for args in {commands}]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_docker",
                                                           "pulumi_random", "pulumi_tls", "grpc"))
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""


def probe(*commands: list[str]) -> dict:
    code = PROBE.format(commands=json.dumps(list(commands)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_pulumi():
    result = probe(["--help"], ["validate", "--help"])
    assert result == {"codes": [0, 0], "heavy": []}


@pytest.mark.parametrize("blueprint, code", [("blueprints/two-region-hot-dr.yaml", 0),
                                             ("tests/golden/invalid/errors-together.yaml", 2)])
def test_validate_imports_no_pulumi(blueprint, code):
    result = probe(["validate", blueprint], ["validate", blueprint, "--json", "--target", "aws"])
    assert result == {"codes": [code, code], "heavy": []}


def test_importing_the_language_alone_imports_no_pulumi():
    done = subprocess.run([sys.executable, "-c", "import sys, topoform.dsl, topoform.cli.main, topoform.cli.validate;"
                           "print(any(m.startswith('pulumi') for m in sys.modules))"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("command, collector", [("validate", False), ("plan", False), ("schema", True)])
def test_offline_commands_run_without_the_cyclic_collector(command, collector):
    # main() leaves the collector off for the commands that compute and exit (cli/main.py OFFLINE).
    code = ("import atexit, gc, sys\natexit.register(lambda: print('collector', gc.isenabled()))\n"
            f"sys.argv = ['topoform', {command!r}] + ([] if {command!r} == 'schema' else ['blueprints/minimal-web.yaml'])\n"
            "from topoform.cli.main import main\nmain()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"collector {collector}"
