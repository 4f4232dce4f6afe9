"""The heavy libraries of features a start does not use are not imported at start.

The MCP SDK, httpx, authlib, joserfc and huggingface_hub cost most of a second and tens of MB
together; each is imported where its feature first runs. A fresh interpreter does what
``bodhi serve`` does before listening (the command line, then ``build_app`` and the runner
setup, with a fresh home) and reports which of them got imported, so a module-level import
added anywhere on that path shows up here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Top-level packages a start must not import (yaml: with no settings or alias file).
LAZY = ("mcp", "mcp_types", "httpx", "httpx2", "authlib", "joserfc", "huggingface_hub",
        "starlette", "uvicorn", "anyio", "native_host", "filelock", "yaml")

START = """
import asyncio, json, sys
import companion.cli.main
from aiohttp import web
from companion.app import build_app
from companion.core.settings import load_settings

async def start():
    app = await build_app(load_settings())
    runner = web.AppRunner(app)
    await runner.setup()
    await runner.cleanup()

asyncio.run(start())
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_start_imports_none_of_the_lazy_libraries(tmp_path: Path) -> None:
    env = {**os.environ, "BODHI_HOME": str(tmp_path / "home"), "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c", START], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "aiohttp" in imported  # the check itself works
    assert sorted(imported & set(LAZY)) == []
