"""How people sign in (local owner or an OIDC provider), as stored in ``app_state``.

A fresh install is in local owner mode and ready (migration 0005 also moves installs that
were still waiting for setup there), so there is no window in which whoever reaches the port
could choose the mode. Changing it is for the owner only (``companion.auth.sign_in_mode``).
The OIDC client secret is kept in the database sealed with the ``SecretBox`` (AES-256-GCM) and
never reported back. The issuer stays recorded after a switch to local mode: it says which
provider the users in the database came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from companion.core.errors import BadRequestError
from companion.core.secrets_box import SecretBox, is_sealed
from companion.storage import AppStateRepository


class AuthMode(StrEnum):
    LOCAL = "local"
    OIDC = "oidc"


class SetupStatus(StrEnum):
    # The only status now; kept in /bodhi/v1/info for clients that read it.
    READY = "ready"


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SetupState:
    status: SetupStatus
    auth_mode: AuthMode
    name: str


DEFAULT_NAME = "Bodhi companion"
CLIENT_SECRET_KEY = "oidc_client_secret"
# Associated data of the sealed client secret: its table and key.
CLIENT_SECRET_PURPOSE = "app_state:oidc_client_secret"


def _check_issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadRequestError("issuer must be an http(s) URL", param="issuer")
    return issuer.rstrip("/")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequestError("name must be 1 to 100 characters", param="name")
    return name


def check_oidc(oidc: OidcConfig | None) -> OidcConfig:
    if oidc is None or not oidc.client_id:
        raise BadRequestError("OIDC mode needs issuer and client_id", param="issuer")
    return OidcConfig(_check_issuer(oidc.issuer), oidc.client_id, oidc.client_secret)


class SetupService:
    def __init__(self, repo: AppStateRepository, box: SecretBox) -> None:
        self._repo = repo
        self._box = box

    async def state(self) -> SetupState:
        values = await self._repo.all()
        return SetupState(SetupStatus.READY, AuthMode(values.get("auth_mode", AuthMode.LOCAL)),
                          values.get("name", DEFAULT_NAME))

    async def users_issuer(self) -> str | None:
        """The provider the users in the database signed in with, if any ever did."""
        return (await self._repo.all()).get("oidc_issuer") or None

    async def save(self, mode: AuthMode, name: str, oidc: OidcConfig | None = None
                   ) -> SetupState:
        """Store a checked choice (``check_name``, ``check_oidc``); see ``SignInModes``."""
        values = {"status": SetupStatus.READY.value, "auth_mode": mode.value, "name": name,
                  CLIENT_SECRET_KEY: ""}
        if mode is AuthMode.OIDC:
            assert oidc is not None
            values |= {"oidc_issuer": oidc.issuer, "oidc_client_id": oidc.client_id,
                       CLIENT_SECRET_KEY: self._sealed(oidc.client_secret)}
        await self._repo.put_all(values)
        return await self.state()

    async def oidc_config(self) -> OidcConfig | None:
        values = await self._repo.all()
        if values.get("auth_mode") != AuthMode.OIDC:
            return None
        secret = values.get(CLIENT_SECRET_KEY) or None
        return OidcConfig(values["oidc_issuer"], values["oidc_client_id"],
                          self._box.open(secret, CLIENT_SECRET_PURPOSE) if secret else None)

    async def seal_plaintext(self) -> bool:
        """Forward-only migration: seal a client secret stored in clear by older versions."""
        secret = (await self._repo.all()).get(CLIENT_SECRET_KEY)
        if not secret or is_sealed(secret):
            return False
        await self._repo.put_all({CLIENT_SECRET_KEY: self._sealed(secret)})
        return True

    def _sealed(self, secret: str | None) -> str:
        return self._box.seal(secret, CLIENT_SECRET_PURPOSE) if secret else ""
