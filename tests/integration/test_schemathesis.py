"""Schemathesis over the companion's own ``/openapi.json``: every operation, with generated
valid requests, must answer without a server error (5xx), with a status the document lists
and a body that matches the documented schema for it.

A real companion (its own home: the run creates aliases, MCP servers and downloads) with the
owner signed in. Each operation gets the credential its security names: an API token with the
power-user scope, else (session-only routes) the owner's browser session cookie; public and
owner-proof routes get none. Half the cases of a route with a path id use a real resource made
for the run (a second token, an alias, a router alias, an API model, an MCP server and instance,
a download job, the embedded model, a setting), so replies of real things are checked against
their schemas too, deletes included. Nothing is left out: sign-out runs last (it ends the
session the others use), and the token and session in use are never a path id. Upstreams
(Hugging Face, providers, the MCP server) point at a closed local port, so calls that reach out
fail at once, as they must (a documented 502), and nothing leaves the machine. The events
WebSocket is called as plain HTTP (no upgrade: a documented 400); what flows over it once
upgraded is not HTTP, and its tests are tests/unit/test_security_http.py and the apps events
tests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Companion, free_port, running_companion

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]

EXAMPLES = 12                 # generated requests per operation
CALL_SECS = 15.0              # one request's limit
TOTAL_SECS = 240.0            # the whole run's limit (about 130 operations)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
LAST = ("POST", "/bodhi/v1/logout")
SEEN: dict[str, set[int]] = {}     # operation -> the statuses it answered with


@dataclass
class Run:
    companion: Companion
    cookie: str
    token: str
    known: dict[tuple[str, str], str]   # (path prefix, parameter) -> a real resource's id


def _made(browser: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    made = browser.post(path, json=body)
    assert made.status_code in (200, 201), made.text
    shown: dict[str, Any] = made.json()
    return shown


def _resources(browser: httpx.Client, closed: str) -> dict[tuple[str, str], str]:
    """Real resources for path ids, longest prefix first."""
    model = browser.get("/v1/models").json()["data"][0]["id"]
    server = _made(browser, "/bodhi/v1/mcps/servers", {"name": "st", "url": closed + "/mcp"})
    base = "/bodhi/v1/models"
    known = {
        ("/bodhi/v1/tokens/", "id"): _made(browser, "/bodhi/v1/tokens", {"name": "victim"})["id"],
        ("/bodhi/v1/mcps/servers/", "id"): server["id"],
        ("/bodhi/v1/mcps/", "id"): _made(browser, "/bodhi/v1/mcps", {
            "server_id": server["id"], "name": "st", "slug": "st"})["id"],
        (base + "/api/", "id"): _made(browser, base + "/api", {
            "api_format": "openai", "base_url": closed + "/v1", "api_key": "k",
            "models": ["m"]})["id"],
        (base + "/files/pull/", "id"): _made(browser, base + "/files/pull", {
            "repo": "owner/repo", "filename": "f.gguf"})["id"],
        (base + "/alias/", "id"): _made(browser, base + "/alias", {
            "alias": "st-alias", "repo": "owner/repo", "filename": "f.gguf"})["alias"],
        (base + "/router/", "alias"): _made(browser, base + "/router", {
            "alias": "st-router", "targets": [model]})["alias"],
        (base + "/", "alias"): model,
        ("/v1/models/", "model"): model,
        ("/anthropic/v1/models/", "model"): model,
        ("/v1beta/models/", "model"): model,
        ("/bodhi/v1/settings/", "key"): "BODHI_KEEP_ALIVE_SECS",
    }
    return dict(sorted(known.items(), key=lambda item: -len(item[0][0])))


@contextlib.contextmanager
def _companion(root: Path) -> Iterator[Run]:
    """A companion, its owner's session cookie, a power-user API token and real resources."""
    closed = f"http://127.0.0.1:{free_port()}"
    with running_companion(root, HF_ENDPOINT=closed) as companion:
        link = companion.cli("open", "--no-browser").strip().splitlines()[-1]
        with httpx.Client(base_url=companion.url, timeout=CALL_SECS) as browser:
            assert browser.get(link).status_code == 200
            cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            token = _made(browser, "/bodhi/v1/tokens", {
                "name": "schemathesis", "scope": "scope_token_power_user"})["token"]
            yield Run(companion, cookie, token, _resources(browser, closed))


def _with_known(operation: schemathesis.APIOperation, known: dict[tuple[str, str], str]
                ) -> Any:
    """Generated cases, and as many again with path ids of real resources (model names only
    where nothing is generated from them: GETs and load/unload)."""
    generated = operation.as_strategy()
    path, method = operation.path, operation.method.upper()
    names = {name for prefix, name in known if path.startswith(prefix)}
    if not names or (method == "POST" and path.startswith(("/v1", "/anthropic"))):
        return generated

    def fill(case: schemathesis.Case) -> schemathesis.Case:
        for (prefix, name), value in known.items():
            if path.startswith(prefix) and name in (case.path_parameters or {}):
                case.path_parameters = {**(case.path_parameters or {}), name: value}
        return case

    return st.one_of(generated, generated.map(fill))


def _credentials(operation: schemathesis.APIOperation, cookie: str, token: str
                 ) -> dict[str, str]:
    schemes = {name for need in operation.definition.raw.get("security", []) for name in need}
    if "bearerToken" in schemes:
        return {"Authorization": f"Bearer {token}"}
    if "sessionCookie" in schemes:
        return {"Cookie": cookie}
    return {}


def _fuzz(operation: schemathesis.APIOperation, headers: dict[str, str],
          known: dict[tuple[str, str], str]) -> str | None:
    """The first failure of one operation's generated cases, or None."""
    found: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=_with_known(operation, known))
    def run(case: schemathesis.Case) -> None:
        if found:
            return
        try:
            response = case.call(headers=headers, timeout=CALL_SECS)
            SEEN.setdefault(operation.label, set()).add(response.status_code)
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
    with _companion(tmp_path) as run:
        schema = schemathesis.openapi.from_url(run.companion.url + "/openapi.json")
        operations = _ordered(schema)
        assert len(operations) > 100
        assert (operations[-1].method.upper(), operations[-1].path) == LAST
        failures: dict[str, str] = {}
        deadline = time.monotonic() + TOTAL_SECS
        for operation in operations:
            assert time.monotonic() < deadline, f"ran out of time at {operation.label}"
            failure = _fuzz(operation, _credentials(operation, run.cookie, run.token), run.known)
            if failure is not None:
                failures[operation.label] = failure
        assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
        # The credentials worked: many operations answered with success, not only refusals.
        succeeded = [label for label, statuses in SEEN.items()
                     if any(200 <= status < 300 for status in statuses)]
        assert len(succeeded) >= 40, SEEN
