"""The CLI's HTTP client of the running companion (``bodhi status``, ``models``, ``chat``).

The CLI runs as the owner, so by default it signs in as the owner and leaves nothing behind:
the owner-proof exchange (``companion.core.owner_proof``) first makes the companion prove it
holds ``owner.secret`` (nothing is sent to a program squatting on the port), then mints a
one-time login link; redeeming it gives a session cookie, and ``close`` logs that session out.
No API token is created. A token given with ``--token`` or ``$BODHI_API_TOKEN`` is used
instead (a companion on another machine, or OIDC users).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from companion.core.errors import BodhiError, ServiceUnavailableError
from companion.core.settings import Settings, public_url, reaching_flags

if TYPE_CHECKING:
    # httpx loads when a command talks to the companion: ``bodhi serve`` never does.
    import httpx

API_TOKEN_ENV = "BODHI_API_TOKEN"
CONNECT_SECS = 5.0
# A first request may wait for a model to load, and a reply may be long.
READ_SECS = 600.0
LOGOUT_PATH = "/bodhi/v1/logout"
LOGIN_LINK_PATH = "/bodhi/v1/owner/login-link"


class NotRunningError(ServiceUnavailableError):
    code = "companion_not_running"


def start_command(settings: Settings) -> str:
    """The command that starts a companion these settings reach."""
    return " ".join(["bodhi serve", *reaching_flags(settings)])


def not_running(settings: Settings) -> NotRunningError:
    return NotRunningError(f"the companion is not running at {public_url(settings)}. "
                           f"Start it with: {start_command(settings)}")


class CompanionClient:
    """One command's conversation with the companion; use it as a context manager."""

    def __init__(self, settings: Settings, token: str | None = None) -> None:
        self.settings = settings
        self.url = public_url(settings)
        self._token = token
        self._session = False
        # The token counts of the last streamed reply (OpenAI ``usage``), when it sent them.
        self.last_usage: dict[str, Any] = {}
        import httpx

        self.http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(
            CONNECT_SECS, read=READ_SECS))

    def __enter__(self) -> CompanionClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def info(self) -> dict[str, Any] | None:
        """``/bodhi/v1/info`` of the companion, or None when nothing answers."""
        import httpx

        try:
            response = self.http.get("/bodhi/v1/info", timeout=CONNECT_SECS)
        except httpx.TransportError:
            return None
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def running_info(self) -> dict[str, Any]:
        info = self.info()
        if info is None:
            raise not_running(self.settings)
        return info

    def sign_in(self) -> None:
        """Use the given token, or start an owner session that ``close`` ends."""
        from native_host.companion_link import CompanionLink
        from native_host.errors import ActionError

        if self._token:
            self.http.headers["Authorization"] = f"Bearer {self._token}"
            return
        link = CompanionLink(self.url, self.settings.home, self.http)
        try:
            url = link.post_as_owner(LOGIN_LINK_PATH, {}).get("url")
        except ActionError as exc:
            if exc.code == "unreachable":
                raise not_running(self.settings) from exc
            if exc.code == "not_companion":
                raise BodhiError(
                    f"something answers at {self.url}, but it could not prove it is the "
                    f"companion of {self.settings.home}, so nothing was sent to it. Stop what "
                    "uses that port or run the companion on another one (--port or "
                    f"BODHI_PORT); for a companion of another user, pass --token or set "
                    f"{API_TOKEN_ENV}", code="not_companion") from exc
            raise BodhiError(exc.message, code=f"owner_{exc.code}") from exc
        landed = self.http.get(str(url))
        if landed.status_code != 200:
            raise BodhiError(f"the owner sign-in failed: {error_message(landed)}",
                             code="owner_login_failed")
        self._session = True

    def get_json(self, path: str) -> Any:
        import httpx

        try:
            response = self.http.get(path)
        except httpx.TransportError as exc:
            raise not_running(self.settings) from exc
        if response.status_code != 200:
            raise api_error(response)
        return response.json()

    def stream_chat(self, body: dict[str, Any]) -> Generator[str, None, None]:
        """The reply's text, piece by piece as it streams; closing the iterator (Ctrl-C)
        closes the connection, which stops the generation."""
        import httpx

        self.last_usage = {}
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        try:
            with self.http.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise api_error(response)
                yield from _sse_text(response.iter_lines(), self.last_usage)
        except httpx.TransportError as exc:
            if self.info() is None:
                raise not_running(self.settings) from exc
            raise BodhiError(f"the reply was cut off: {type(exc).__name__}",
                             code="stream_cut") from exc

    def close(self) -> None:
        import httpx

        if self._session:
            self._session = False
            # When the companion has stopped meanwhile, its session store expires the session.
            with contextlib.suppress(httpx.HTTPError):
                self.http.post(LOGOUT_PATH, timeout=CONNECT_SECS)
        self.http.close()


def _sse_text(lines: Iterator[str], usage: dict[str, Any]) -> Iterator[str]:
    """The text of each event's first choice; the ``usage`` an event carries goes into
    ``usage``."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise BodhiError(_message_of(event), code="stream_error")
        usage.update(event.get("usage") or {})
        for choice in event.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text


def _message_of(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    if isinstance(error, str):
        return error
    return "no details"


def error_message(response: httpx.Response) -> str:
    try:
        return _message_of(response.json())
    except ValueError:
        return f"HTTP {response.status_code}"


def api_error(response: httpx.Response) -> BodhiError:
    """The companion's refusal as an error of the same status and code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else None
    found = BodhiError(error_message(response), code=code or f"http_{response.status_code}")
    found.status = response.status_code
    return found
