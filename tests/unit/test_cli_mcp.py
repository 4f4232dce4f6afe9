"""``bodhi mcp``: servers and connections from a terminal, secrets never on the command line."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from companion.cli.main import main
from companion.core.secrets_box import is_sealed
from tests.conftest import db_path


def _bodhi(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           *argv: str, stdin: str = "") -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main([*argv[:2], "--home", str(home), *argv[2:]])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_register_connect_list_and_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    run = lambda *a, stdin="": _bodhi(home, monkeypatch, capsys, *a, stdin=stdin)  # noqa: E731
    assert run("mcp", "add-server", "tools", "--url", "http://127.0.0.1:9/mcp",
               "--auth", "header", "--auth-key", "X-Api-Key")[0] == 0
    code, out = run("mcp", "add-server", "local", "--env", "TOKEN", "--command", "python3",
                    "--args", "-m", "some.server", "--stdio", stdin="env-secret\n")
    assert code == 0, out
    code, out = run("mcp", "servers")
    assert "python3 -m some.server --stdio" in out and "http://127.0.0.1:9/mcp" in out
    code, out = run("mcp", "connect", "tools", "--slug", "tools", "--key", "X-Api-Key",
                    stdin="key-secret\n")
    assert code == 0 and "/bodhi/v1/mcps/" in out, out
    assert "tools" in run("mcp", "list")[1]
    with sqlite3.connect(db_path(home)) as db:
        (creds,) = db.execute("SELECT credentials FROM mcp_instances").fetchone()
        (env,) = db.execute("SELECT command_env FROM mcp_servers WHERE name = 'local'"
                            ).fetchone()
    assert is_sealed(creds) and is_sealed(env)
    assert b"key-secret" not in db_path(home).read_bytes()
    assert b"env-secret" not in db_path(home).read_bytes()
    code, out = run("mcp", "add-server", "tools", "--url", "http://127.0.0.1:9/other")
    assert code == 1 and "already registered" in out
    assert run("mcp", "disconnect", "tools")[0] == 0
    assert run("mcp", "remove-server", "local")[0] == 0
    code, out = run("mcp", "connect", "nope", "--slug", "x")
    assert code == 1 and "No MCP server named 'nope'" in out
