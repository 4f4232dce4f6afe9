"""A real OpenID Connect provider (``oidc-provider-mock``) on a loopback port, and the
browser-less sign-in: the HTTP client follows the same redirects a browser would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.conftest import Companion, free_port, running_companion, wait_until

START_TIMEOUT = 30.0


class OidcProvider:
    def __init__(self, log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port), *args],
            stdout=self._log, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited with {self.proc.returncode}")
        try:
            return httpx.get(self.url + "/.well-known/openid-configuration",
                             timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


@contextlib.contextmanager
def running_provider(log_path: Path, *args: str) -> Iterator[OidcProvider]:
    """``args`` go to the provider, e.g. ``--token-max-age 1``."""
    provider = OidcProvider(log_path, *args)
    try:
        if not wait_until(provider.ready, START_TIMEOUT, 0.2):
            raise RuntimeError("the OIDC provider did not start")
        yield provider
    finally:
        provider.stop()


@contextlib.contextmanager
def oidc_companion(root: Path, provider: OidcProvider, client_id: str, client_secret: str
                   ) -> Iterator[Companion]:
    """A companion in ``root`` set up in OIDC mode against ``provider``, running."""
    companion = Companion(root)
    companion.cli("setup", "--mode", "oidc", "--name", "Team", "--issuer", provider.url,
                  "--client-id", client_id, "--client-secret", client_secret, "--yes")
    with running_companion(companion.home.parent) as running:
        yield running


def authorize(client: httpx.Client, companion_url: str, subject: str) -> httpx.Response:
    """Start a sign-in and sign in at the provider as ``subject``; the provider's redirect
    back to the companion is returned, not followed."""
    started = client.post(companion_url + "/bodhi/v1/auth/initiate")
    assert started.status_code == 200, started.text
    location = started.json()["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location
    assert client.get(location).status_code == 200  # the provider's sign-in form
    back = client.post(location, data={"sub": subject})
    assert back.status_code == 302, back.text
    return back


def sign_in(client: httpx.Client, companion_url: str, subject: str) -> dict[str, object]:
    """The whole sign-in; returns ``/bodhi/v1/user`` as the new session sees it."""
    back = authorize(client, companion_url, subject)
    landed = client.get(back.headers["location"])
    assert landed.status_code == 200, landed.text
    user = client.get(companion_url + "/bodhi/v1/user").json()
    assert isinstance(user, dict)
    return user
