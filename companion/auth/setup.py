"""The one-time setup choice: how people sign in (local owner or an OIDC provider).

Until someone runs setup the status is ``setup`` and the companion behaves as in local
mode, so a fresh install just works for the person who installed it. Setup is permanent.
The OIDC client secret is kept in the database sealed with the ``SecretBox`` (AES-256-GCM) and
never reported back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from companion.errors import BadRequestError
from companion.secrets_box import SecretBox, is_sealed
from companion.storage import AppStateRepository


class AuthMode(StrEnum):
    LOCAL = "local"
    OIDC = "oidc"


class SetupStatus(StrEnum):
    SETUP = "setup"
    READY = "ready"


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None


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


class SetupService:
    def __init__(self, repo: AppStateRepository, box: SecretBox) -> None:
        self._repo = repo
        self._box = box

    async def state(self) -> SetupState:
        values = await self._repo.all()
        return SetupState(SetupStatus(values.get("status", SetupStatus.SETUP)),
                          AuthMode(values.get("auth_mode", AuthMode.LOCAL)),
                          values.get("name", DEFAULT_NAME))

    async def setup(self, mode: AuthMode, name: str, oidc: OidcConfig | None = None
                    ) -> SetupState:
        if (await self.state()).status is SetupStatus.READY:
            raise BadRequestError("The companion is already set up; setup can run only once.",
                                  code="setup_error-already_done")
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequestError("name must be 1 to 100 characters", param="name")
        values = {"status": SetupStatus.READY.value, "auth_mode": mode.value, "name": name}
        if mode is AuthMode.OIDC:
            if oidc is None or not oidc.client_id:
                raise BadRequestError("OIDC mode needs issuer and client_id", param="issuer")
            values |= {"oidc_issuer": _check_issuer(oidc.issuer),
                       "oidc_client_id": oidc.client_id,
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
