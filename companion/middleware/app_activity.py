"""Record each request made with an app token in the apps' activity record.

Installed just inside the metrics middleware, so it sees the status a request was finally
answered with (rendered errors included, 499 for a client that left) and how long it took,
streams to their end. It learns who called from the principal that the auth chain below it
resolved, and the model from ``REQUESTED_MODEL``, which the relay sets once the body is read.
A request whose token was refused never resolves to an app principal, so it is not recorded
(the refusal belongs to no grant the caller could prove). The recorder only queues the entry
(``access/activity.py``): nothing here waits on the database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from companion.access.activity import AppCall, app_call
from companion.auth.principal import PrincipalKind
from companion.middleware.auth import PRINCIPAL
from companion.middleware.metrics import CLIENT_CLOSED, sent_status

# The model a request named, set by the handler that reads the body (``routes/relay.py``).
REQUESTED_MODEL = web.RequestKey("requested_model", str)

AppCallRecorder = Callable[[AppCall], None]


def note_model(request: web.Request, body: Mapping[str, Any]) -> None:
    """Keep the model an (OpenAI-shaped) body names, for the activity record."""
    if isinstance(body.get("model"), str):
        request[REQUESTED_MODEL] = body["model"]


def _record(request: web.Request, record: AppCallRecorder, at: float, began: float,
            status: int) -> None:
    principal = request.get(PRINCIPAL)
    if principal is None or principal.kind is not PrincipalKind.APP_TOKEN:
        return
    if principal.token_id is None or principal.user_id is None or principal.app is None:
        return
    record(app_call(grant_id=principal.token_id, app=principal.app, user_id=principal.user_id,
                    at=at, method=request.method, path=request.path,
                    model=request.get(REQUESTED_MODEL), status=status,
                    duration_ms=round((time.monotonic() - began) * 1000)))


def app_activity_middleware(record: AppCallRecorder) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        at, began = time.time(), time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = sent_status(request, CLIENT_CLOSED)
            raise
        finally:
            _record(request, record, at, began, status)

    return middleware
