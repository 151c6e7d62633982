"""The `mcp` command stays out of the way: the CLI starts without the MCP SDK, and says how to get it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO, run_cli


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_does_not_import_the_sdk_until_the_mcp_command_runs() -> None:
    done = _python(
        "import sys\n"
        "from screenrecall.cli import build_parser\n"
        "build_parser().parse_args(['mcp'])\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'screenrecall.agents'))))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_sdk_the_command_says_which_extra_to_install() -> None:
    done = _python(
        "import sys\n"
        "class NoMcp:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mcp' or name.startswith('mcp.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, NoMcp())\n"
        "from screenrecall.cli import main\n"
        "sys.exit(main(['mcp']))\n"
    )
    assert done.returncode == 1
    assert "the MCP server needs the optional extra: pip install 'screenrecall[mcp]'" in done.stderr


def test_help_lists_the_command() -> None:
    done = run_cli("--help")
    assert done.returncode == 0 and "mcp" in done.stdout and "Model Context Protocol" in done.stdout
