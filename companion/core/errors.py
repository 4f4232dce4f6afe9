"""The one error tree.

Every error the companion reports carries a stable machine-readable ``code``, an HTTP
``status`` and a Bodhi ``type``. The HTTP layer renders it in the caller's API family
(Bodhi envelope, OpenAI, ...); nothing else builds error JSON. ``details`` are further
machine-readable members of the Bodhi envelope's ``error`` object (e.g. ``tries_left``).

    BodhiError                      500 internal_server_error
    ├── ConfigError                 500 (startup / CLI: a bad setting or file)
    ├── BadRequestError             400 invalid_request_error
    │   └── PayloadTooLargeError    413
    ├── AuthenticationError         401 authentication_error
    ├── ForbiddenError              403 forbidden_error
    ├── NotFoundError               404 not_found_error
    │   └── ModelNotFoundError  invalid_request_error (as OpenAI types it)
    ├── ConflictError               409 conflict_error
    ├── TooManyRequestsError        429 rate_limit_error (with Retry-After)
    ├── UpstreamError               502 (a model server answered badly or died)
    ├── McpAuthError                502, or 400 when the user must act (mcp_oauth_*: an MCP
    │                                   server's OAuth discovery, registration or tokens)
    └── ServiceUnavailableError     503 service_unavailable
        ├── ModelLoadError          (a model server could not be started)
        └── McpServerError          mcp_server_unavailable (a local MCP server could not be
                                    started, or died)
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_MESSAGE_CHARS = 1000


class BodhiError(Exception):
    status = 500
    type = "internal_server_error"
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None,
                 retry_after: int | None = None,
                 details: Mapping[str, int | str | bool] | None = None) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            # Messages quote the request (a model name, a value): a 10 MB one is not echoed.
            message = f"{message[:MAX_MESSAGE_CHARS // 2]} [...] {message[-200:]}"
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        # Seconds after which trying again may succeed; rendered as a Retry-After header.
        self.retry_after = retry_after
        # Extra members of the Bodhi envelope's error object; never secrets.
        self.details: dict[str, int | str | bool] = dict(details or {})


class ConfigError(BodhiError):
    code = "config_error"


class BadRequestError(BodhiError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class PayloadTooLargeError(BadRequestError):
    status = 413
    code = "request_too_large"


class AuthenticationError(BodhiError):
    status = 401
    type = "authentication_error"
    code = "auth_error-invalid_token"


class ForbiddenError(BodhiError):
    status = 403
    type = "forbidden_error"
    code = "forbidden"


class NotFoundError(BodhiError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    # OpenAI's wording, type and (absent) param, which its clients and test suites match;
    # a model the caller may not use gets the very same answer.
    type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model `{model}` does not exist or you do not have access "
                         "to it.")
        self.model = model


class ConflictError(BodhiError):
    status = 409
    type = "conflict_error"
    code = "conflict"


class TooManyRequestsError(BodhiError):
    status = 429
    type = "rate_limit_error"
    code = "too_many_requests"


class UpstreamError(BodhiError):
    status = 502
    code = "upstream_error"


class McpAuthError(BodhiError):
    """OAuth with a remote MCP server failed. ``oauth_error`` is the server's OAuth error code
    (``invalid_grant``, ...) when it answered with one, so a caller can tell "sign in again"
    from "the server is unreachable". Messages never carry secrets, tokens, codes or verifiers.
    """

    status = 502
    code = "mcp_oauth_error"

    def __init__(self, message: str, *, code: str, status: int = 502,
                 oauth_error: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.oauth_error = oauth_error


class ServiceUnavailableError(BodhiError):
    status = 503
    type = "service_unavailable"
    code = "service_unavailable"


class ModelLoadError(ServiceUnavailableError):
    code = "model_load_error"


class McpServerError(ServiceUnavailableError):
    code = "mcp_server_unavailable"
