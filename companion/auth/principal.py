"""The resolved caller of one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    API_TOKEN = "api_token"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)
