"""OIDC sessions outlive the provider's short access tokens through refresh tokens, and end
when the provider refuses a refresh."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Companion, running_companion, wait_until
from tests.integration.oidc_provider import running_provider, sign_in

SECRET = "refresh-test-client-secret"


def _token_calls(root: Path) -> int:
    return (root / "provider.log").read_text(errors="replace").count("POST /oauth2/token")


def test_refresh_keeps_the_session_until_the_provider_refuses(tmp_path: Path) -> None:
    with running_provider(tmp_path / "provider.log", "--token-max-age", "1") as provider:
        Companion(tmp_path).cli("setup", "--mode", "oidc", "--name", "Refresh", "--issuer",
                                provider.url, "--client-id", "refresh-test",
                                "--client-secret", SECRET, "--yes")
        with running_companion(tmp_path) as companion, httpx.Client(timeout=60) as kept, \
                httpx.Client(timeout=60) as ended:
            url = companion.url + "/bodhi/v1/user"
            assert sign_in(kept, companion.url, "frank@example.com")["auth_status"] == \
                "logged_in"
            assert sign_in(ended, companion.url, "grace@example.com")["auth_status"] == \
                "logged_in"
            signed_in = _token_calls(tmp_path)  # the two code exchanges
            revoked = httpx.post(f"{provider.url}/users/grace@example.com/revoke-tokens")
            assert revoked.status_code < 300

            def refreshed() -> bool:
                return (kept.get(url).json()["auth_status"] == "logged_in"
                        and _token_calls(tmp_path) > signed_in)

            # Past the access token's one second, frank's session refreshes itself and goes
            # on; the provider refuses grace's refresh, which ends her session.
            assert wait_until(refreshed, timeout=15, interval=0.5)
            assert wait_until(lambda: ended.get(url).json() == {"auth_status": "logged_out"},
                              timeout=15, interval=0.5)
            assert kept.get(url).json()["auth_status"] == "logged_in"
            assert SECRET not in companion.log_text()
