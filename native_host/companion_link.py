"""The host's HTTP link to the companion: nothing is asked of it before it proves itself.

``prove`` runs the owner-proof challenge (``companion.core.owner_proof``): a fresh client nonce
goes out, and a server nonce comes back with an HMAC that only a holder of
``$BODHI_HOME/owner.secret`` can compute. Nothing answering means the companion is not
running; an answer without the right proof (another program on the port, or a companion of
another ``BODHI_HOME``) is ``not_companion``, and nothing more is sent there. Each owner
request runs its own challenge first and is signed over that server nonce; the secret itself
never leaves this process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from companion.core.owner_proof import (
    CHALLENGE_PATH,
    companion_proof,
    is_nonce,
    new_nonce,
    owner_headers,
    same_proof,
)
from companion.core.owner_secret import read_owner_secret
from native_host.errors import ActionError

PROBE_TIMEOUT_SECS = 5.0
OWNER_TIMEOUT_SECS = 30.0


class CompanionLink:
    """One action's conversation with the companion at ``url`` (one client, one connection)."""

    def __init__(self, url: str, home: Path, client: httpx.Client) -> None:
        self.url = url
        self._home = home
        self._client = client

    def prove(self) -> str | None:
        """A fresh server nonce from the proven companion; None when nothing answers."""
        client_nonce = new_nonce()
        try:
            response = self._client.post(self.url + CHALLENGE_PATH,
                                         json={"client_nonce": client_nonce},
                                         timeout=PROBE_TIMEOUT_SECS)
        except httpx.ConnectError:
            return None
        except httpx.HTTPError as exc:
            raise self._not_companion() from exc
        server_nonce, proof = _answer(response)
        if server_nonce is None or not same_proof(
                companion_proof(self._secret(), self.url, client_nonce, server_nonce), proof):
            raise self._not_companion()
        return server_nonce

    def info(self) -> dict[str, Any]:
        """The proven companion's /bodhi/v1/info (version, status), or {}."""
        try:
            response = self._client.get(self.url + "/bodhi/v1/info",
                                        timeout=PROBE_TIMEOUT_SECS)
            info = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def post_as_owner(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` signed over a fresh nonce from the proven companion."""
        server_nonce = self.prove()
        if server_nonce is None:
            raise ActionError("unreachable", f"the companion at {self.url} stopped answering")
        raw = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json",
                   **owner_headers(self._secret(), self.url, server_nonce, "POST", path, raw)}
        try:
            response = self._client.post(self.url + path, content=raw, headers=headers,
                                         timeout=OWNER_TIMEOUT_SECS)
            reply = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ActionError("companion_error", f"the companion at {self.url} did not "
                              f"answer {path}: {type(exc).__name__}") from exc
        if response.status_code != 200 or not isinstance(reply, dict):
            raise ActionError("companion_error", _refusal(response.status_code, reply))
        return reply

    def _secret(self) -> str:
        return read_owner_secret(self._home)

    def _not_companion(self) -> ActionError:
        port = urlsplit(self.url).port
        return ActionError(
            "not_companion",
            f"Something else answers at {self.url}: it could not prove it is the Bodhi "
            f"companion of {self._home}, so nothing was sent to it. Stop the program that "
            f"uses port {port}, or run the companion on another port (BODHI_PORT). A "
            "companion older than this host cannot prove itself either: restart it.")


def _answer(response: httpx.Response) -> tuple[str | None, object]:
    """(server nonce, proof) from a challenge answer, or (None, None) when it is not one."""
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not is_nonce(body.get("server_nonce")):
        return None, None
    return str(body["server_nonce"]), body.get("proof")


def _refusal(status: int, reply: object) -> str:
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict):
        return f"the companion refused ({status} {error.get('code')}): {error.get('message')}"
    return f"the companion answered {status}"
