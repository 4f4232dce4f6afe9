"""The official MCP TypeScript SDK as one browser ES module, for pages in the e2e tests.

``python -m e2e.mcp_sdk`` installs the pinned ``@modelcontextprotocol/sdk`` and ``esbuild``
from npm into ``e2e/.npm/`` and bundles an entry that exports ``Client`` into
``e2e/pages/vendor/mcp-sdk.js``, which the test pages' server serves as ``/vendor/mcp-sdk.js``.
Both folders are git-ignored; a run with nothing changed returns at once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".npm"
BUNDLE = HERE / "pages" / "vendor" / "mcp-sdk.js"
PACKAGES = ("@modelcontextprotocol/sdk@1.32.2", "esbuild@0.28.2")
ENTRY = "export { Client } from '@modelcontextprotocol/sdk/client/index.js';\n"
STAMP = "\n".join((*PACKAGES, ENTRY))


def ensure_bundle() -> Path:
    """The bundle's path, built first when missing or made from other pins."""
    stamp = CACHE / "stamp"
    if BUNDLE.exists() and stamp.exists() and stamp.read_text() == STAMP:
        return BUNDLE
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is missing: install Node.js (scripts/test checks for it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix",
                    str(CACHE), *PACKAGES], check=True, capture_output=True, timeout=300)
    entry = CACHE / "entry.js"
    entry.write_text(ENTRY)
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(CACHE / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle",
                    "--format=esm", "--platform=browser", "--log-level=warning",
                    f"--outfile={BUNDLE}"], check=True, capture_output=True, timeout=120,
                   cwd=CACHE)
    stamp.write_text(STAMP)
    return BUNDLE


if __name__ == "__main__":
    print(ensure_bundle(), file=sys.stderr)
