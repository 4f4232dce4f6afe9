"""Who is calling: owner secret, API tokens and the resolved principal."""

from companion.auth.principal import Principal
from companion.auth.tokens import TOKEN_PREFIX, ApiToken, ApiTokenService, TokenScope
from companion.core.owner_secret import ensure_owner_secret

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "ApiTokenService",
    "Principal",
    "TokenScope",
    "ensure_owner_secret",
]
