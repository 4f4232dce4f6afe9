"""How children start from a Python install and from the one-file binary (core.self_command,
companion/frozen.py), without building the binary: ``sys.frozen`` is set by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from companion import frozen as entry
from companion.cli.main import build_parser
from companion.core.self_command import (
    MODULE_ENTRY,
    foreign_env,
    module_command,
    outliving_env,
    sharing_env,
)
from companion.core.settings import load_settings
from companion.inference.process import LaunchConfig
from companion.mcp.stdio_bridge import stdio_parameters
from companion.mcp.stdio_spec import StdioSpec
from companion.server import try_it
from native_host.install import launcher_text

MEI = "/tmp/_MEI123"
BOOTLOADER_ENV = {"_PYI_ARCHIVE_FILE": "/opt/bodhi", "_PYI_APPLICATION_HOME_DIR": MEI,
                  "_PYI_PARENT_PROCESS_LEVEL": "1", "LD_LIBRARY_PATH": f"{MEI}:/usr/local/lib",
                  "LD_LIBRARY_PATH_ORIG": "/usr/local/lib", "PATH": "/usr/bin", "HOME": "/h"}


@pytest.fixture
def in_binary(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/bodhi")
    return "/opt/bodhi"


def _config(llama_server: str) -> LaunchConfig:
    return LaunchConfig(llama_server=llama_server, default_flags=(), log_dir=Path("/logs"),
                        ready_timeout=5, threads_http=2)


def test_from_a_python_install_children_are_python_dash_m() -> None:
    assert module_command("native_host") == [sys.executable, "-m", "native_host"]
    assert outliving_env({"A": "1"}) == {"A": "1"}
    assert sharing_env(BOOTLOADER_ENV) == {}
    assert foreign_env(BOOTLOADER_ENV) == BOOTLOADER_ENV


def test_in_the_binary_children_use_the_hidden_entry(in_binary: str) -> None:
    assert module_command("native_host") == [in_binary, MODULE_ENTRY, "native_host"]
    assert _config("").command() == [in_binary, MODULE_ENTRY, "companion.inference.launcher"]


def test_the_llama_server_setting_runs_that_binary_through_the_exec_guard(in_binary: str
                                                                          ) -> None:
    assert _config("/usr/bin/llama-server").command() == [
        in_binary, MODULE_ENTRY, "companion.core.exec_guard", "/usr/bin/llama-server"]


def test_a_child_that_outlives_us_unpacks_its_own_copy(in_binary: str) -> None:
    assert outliving_env({"A": "1"}) == {"A": "1", "PYINSTALLER_RESET_ENVIRONMENT": "1"}


def test_a_child_given_a_fresh_environment_still_shares_our_files(in_binary: str) -> None:
    assert sharing_env(BOOTLOADER_ENV) == {
        k: v for k, v in BOOTLOADER_ENV.items() if k not in ("PATH", "HOME")}


def test_a_foreign_program_gets_the_environment_from_before_the_binary(in_binary: str) -> None:
    assert foreign_env(BOOTLOADER_ENV) == {"PATH": "/usr/bin", "HOME": "/h",
                                           "LD_LIBRARY_PATH": "/usr/local/lib"}
    unset_before = {k: v for k, v in BOOTLOADER_ENV.items() if k != "LD_LIBRARY_PATH_ORIG"}
    assert "LD_LIBRARY_PATH" not in foreign_env(unset_before)
    # A loader path set for the program itself (an MCP server's env) is left alone.
    own = {**BOOTLOADER_ENV, "LD_LIBRARY_PATH": "/opt/mine"}
    assert foreign_env(own)["LD_LIBRARY_PATH"] == "/opt/mine"


def test_the_native_host_launcher_execs_the_binary(in_binary: str) -> None:
    text = launcher_text({"BODHI_HOME": "/h/.bodhi"})
    assert text.splitlines()[-1] == f'exec {in_binary} {MODULE_ENTRY} native_host "$@"'


def test_the_hidden_entry_runs_a_module_as_main(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "seen.json"
    (tmp_path / "probe_module.py").write_text(
        "import json, pathlib, sys\n"
        f"pathlib.Path({str(out)!r}).write_text(json.dumps([__name__, sys.argv]))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))

    assert entry.main(["bodhi", MODULE_ENTRY, "probe_module", "--port", "1"]) == 0

    name, argv = json.loads(out.read_text())
    assert name == "__main__"
    assert argv == [str(tmp_path / "probe_module.py"), "--port", "1"]


def test_anything_else_is_the_cli_and_its_help_hides_the_entry(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        entry.main(["bodhi", "--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("bodhi ")
    assert MODULE_ENTRY not in build_parser().format_help()


def test_an_mcp_stdio_server_is_guarded_by_a_process_sharing_our_files(
        in_binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK starts the guard with a minimal environment plus ``env``: without the
    # bootloader's variables the guard would unpack a copy of its own, and as the
    # bootloader's child it would not see the bridge as its parent.
    for name, value in BOOTLOADER_ENV.items():
        monkeypatch.setenv(name, value)
    params = stdio_parameters(StdioSpec("npx", ("server",), env={"API_KEY": "k"}))

    assert [params.command, *params.args] == [in_binary, MODULE_ENTRY,
                                              "companion.core.exec_guard", "npx", "server"]
    assert params.env is not None
    assert params.env["_PYI_APPLICATION_HOME_DIR"] == MEI
    assert params.env["API_KEY"] == "k"


def test_the_pasted_chat_command_names_the_binary_on_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "bodhi"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(binary))
    monkeypatch.setattr(sys, "argv", ["bodhi", "serve"])
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = load_settings({"BODHI_PORT": "18999"})

    assert try_it(settings).startswith("bodhi chat ")
    assert try_it(settings).endswith("--port 18999")
