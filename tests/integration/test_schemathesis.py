"""Schemathesis over the companion's own ``/openapi.json``: every operation, with generated
valid requests, must answer without a server error (5xx), with a status the document lists
and a body that matches the documented schema for it.

A real companion (its own home: the run creates aliases, MCP servers and downloads) with the
owner signed in. Each operation gets the credential its security names: an API token with the
power-user scope, else (session-only routes) the owner's browser session cookie; public and
owner-proof routes get none. Nothing is left out: sign-out runs last (it ends the session the
others use), and every path id is generated, so no generated DELETE hits the token or session
in use. Upstreams (Hugging Face, providers) point at a closed local port, so calls that reach
out fail at once, as they must (a documented 502), and nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Companion, free_port, running_companion

pytestmark = pytest.mark.slow

EXAMPLES = 12                 # generated requests per operation
CALL_SECS = 15.0              # one request's limit
TOTAL_SECS = 240.0            # the whole run's limit (about 130 operations)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
LAST = ("POST", "/bodhi/v1/logout")


@contextlib.contextmanager
def _companion(root: Path) -> Iterator[tuple[Companion, str, str]]:
    """A companion, its owner's session cookie and a power-user API token."""
    closed = f"http://127.0.0.1:{free_port()}"
    with running_companion(root, HF_ENDPOINT=closed) as companion:
        link = companion.cli("open", "--no-browser").strip().splitlines()[-1]
        with httpx.Client(timeout=CALL_SECS) as browser:
            assert browser.get(link).status_code == 200
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            made = browser.post(companion.url + "/bodhi/v1/tokens", json={
                "name": "schemathesis", "scope": "scope_token_power_user"})
            assert made.status_code == 201, made.text
            yield companion, cookie, made.json()["token"]


def _credentials(operation: schemathesis.APIOperation, cookie: str, token: str
                 ) -> dict[str, str]:
    schemes = {name for need in operation.definition.raw.get("security", []) for name in need}
    if "bearerToken" in schemes:
        return {"Authorization": f"Bearer {token}"}
    if "sessionCookie" in schemes:
        return {"Cookie": cookie}
    return {}


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str]) -> str | None:
    """The first failure of one operation's generated cases, or None."""
    found: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        if found:
            return
        try:
            response = case.call(headers=headers, timeout=CALL_SECS)
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseExceptionGroup as failures:
            found.append(str(failures)[:1500])
        except requests.RequestException as exc:
            found.append(f"{case.method} {case.formatted_path}: {exc!r}")

    run()
    return found[0] if found else None


def _ordered(schema: Any) -> list[schemathesis.APIOperation]:
    operations = [result.ok() for result in schema.get_all_operations()]
    return sorted(operations, key=lambda op: (op.method.upper(), op.path) == LAST)


def test_every_operation_conforms_and_never_fails_with_5xx(tmp_path: Path) -> None:
    with _companion(tmp_path) as (companion, cookie, token):
        schema = schemathesis.openapi.from_url(companion.url + "/openapi.json")
        operations = _ordered(schema)
        assert len(operations) > 100
        assert (operations[-1].method.upper(), operations[-1].path) == LAST
        failures: dict[str, str] = {}
        deadline = time.monotonic() + TOTAL_SECS
        for operation in operations:
            assert time.monotonic() < deadline, f"ran out of time at {operation.label}"
            failure = _fuzz(operation, _credentials(operation, cookie, token))
            if failure is not None:
                failures[operation.label] = failure
        assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
