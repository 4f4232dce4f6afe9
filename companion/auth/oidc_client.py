"""authlib's OAuth 2 client for OIDC sign-in, sending through the shared httpx client.

Its own module so that authlib loads with the first sign-in (``OidcLogin._client``), not at
start.
"""

from __future__ import annotations

from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.client import OAuth2Client


class OidcClient(OAuth2Client):  # type: ignore[misc]
    """authlib's OAuth 2 client (PKCE, client authentication, token parsing and errors)
    sending through the shared httpx client.

    authlib's ``AsyncOAuth2Client`` is an HTTP client of its own, with its own connection pool,
    which would be built for every sign-in; this one overrides the two methods that send (as
    authlib's own integrations do), so ``fetch_token`` and ``refresh_token`` return awaitables.
    """

    oauth_error_class = OAuthError
    SESSION_REQUEST_PARAMS = ["timeout"]

    async def _post(self, url: str, body: str, headers: dict[str, str] | None, auth: Any,
                    **kwargs: Any) -> httpx.Response:
        # A copy: authlib hands over its module-wide default headers, which auth may change.
        url, headers, body = auth.prepare("POST", url, dict(headers or {}), body)
        response: httpx.Response = await self.session.post(url, content=body, headers=headers,
                                                           **kwargs)
        return response

    async def _fetch_token(self, url: str, body: str = "", headers: dict[str, str] | None = None,
                           auth: Any = None, method: str = "POST", **kwargs: Any) -> Any:
        return self.parse_response_token(await self._post(url, body, headers, auth, **kwargs))

    async def _refresh_token(self, url: str, refresh_token: str | None = None, body: str = "",
                             headers: dict[str, str] | None = None, auth: Any = None,
                             **kwargs: Any) -> Any:
        token = self.parse_response_token(await self._post(url, body, headers, auth, **kwargs))
        if "refresh_token" not in token:  # the provider keeps the refresh token it gave
            self.token["refresh_token"] = refresh_token
        return self.token
