"""Fixtures of the MCP API tests: one companion and one public MCP test server per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.mcp_api import Bodhi, bodhi_running
from tests.mcp_servers import serving


@pytest.fixture(scope="module")
def tools() -> Iterator[str]:
    """The public tools server's MCP endpoint."""
    with serving("tools") as url:
        yield url + "/mcp"


@pytest.fixture(scope="module")
def bodhi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bodhi]:
    """A companion with the owner signed in and an extension paired."""
    with bodhi_running(tmp_path_factory.mktemp("mcp")) as running:
        yield running
