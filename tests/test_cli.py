"""The command line: help, version, exit codes, and that it stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import eofusion
from eofusion.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "eofusion", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_commands_and_options() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "Usage: eofusion" in result.stdout and "--version" in result.stdout and "sensors" in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and eofusion.__version__ in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run("no-such-command")
    assert result.returncode == 2 and "No such command" in result.stderr


def test_eofusion_error_gives_message_and_exit_1_without_traceback() -> None:
    result = run("sensors", "worldview-3")
    assert result.returncode == 1
    assert "worldview-3" in result.stderr and "Traceback" not in result.stderr


def test_sensors_json_is_machine_readable(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sensors", "sentinel-2b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "sentinel-2b" and any(b["name"] == "B8A" for b in data["bands"])


def test_import_and_help_do_not_import_torch() -> None:
    code = (
        "import sys, eofusion, eofusion.sensors, eofusion.grid, eofusion.catalog\n"
        "from eofusion.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_every_public_name_resolves() -> None:
    missing = [name for name in eofusion.__all__ if getattr(eofusion, name, None) is None]
    assert not missing
