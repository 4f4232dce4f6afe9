"""The one-time setup choice: how people sign in (local owner or an OIDC provider).

Until someone runs setup the status is ``setup`` and the companion behaves as in local
mode, so a fresh install just works for the person who installed it. Setup is permanent.
The OIDC client secret is kept in the database and never reported back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from companion.errors import BadRequestError
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


def _check_issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadRequestError("issuer must be an http(s) URL", param="issuer")
    return issuer.rstrip("/")


class SetupService:
    def __init__(self, repo: AppStateRepository) -> None:
        self._repo = repo

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
                       "oidc_client_secret": oidc.client_secret or ""}
        await self._repo.put_all(values)
        return await self.state()

    async def oidc_config(self) -> OidcConfig | None:
        values = await self._repo.all()
        if values.get("auth_mode") != AuthMode.OIDC:
            return None
        return OidcConfig(values["oidc_issuer"], values["oidc_client_id"],
                          values.get("oidc_client_secret") or None)
