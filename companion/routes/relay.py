"""The one relay from a model server to the client, for every API family.

The body goes to a ready child (``InferenceService.forward``) and its reply comes back through
the family's ``ReplyTranslation``: a whole reply in one piece, a stream chunk by chunk as it
arrives (never buffered), framed as the family declares. A failure once the stream has begun
cannot change the status any more, so it goes out as the family's error event. A client that
leaves ends the relay; leaving ``forward`` closes the connection to the child, which stops the
generation.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from companion.core.errors import UpstreamError
from companion.families import ApiFamily
from companion.families.family import Family
from companion.families.translation import ReplyTranslation, WholeReply, upstream_error
from companion.inference.service import Endpoint, ModelReply
from companion.middleware.app_activity import note_model
from companion.middleware.auth import PRINCIPAL
from companion.routes.keys import INFERENCE


async def relay(request: web.Request, family: ApiFamily, endpoint: Endpoint,
                body: dict[str, Any], translation: ReplyTranslation) -> web.StreamResponse:
    note_model(request, body)
    async with request.app[INFERENCE].forward(endpoint, body, request[PRINCIPAL]) as reply:
        if reply.status != 200 and not translation.relays_refusals:
            raise upstream_error(reply.status, await reply.read())
        if not reply.is_event_stream:
            whole = translation.reply(WholeReply(reply.status, reply.content_type,
                                                 await reply.read()))
            return web.Response(body=whole.body, status=whole.status,
                                headers={"Content-Type": whole.content_type})
        return await _stream(request, reply, family.value, translation)


async def _stream(request: web.Request, reply: ModelReply, family: Family,
                  translation: ReplyTranslation) -> web.StreamResponse:
    framing = family.stream
    if framing is None:
        raise LookupError(f"the {family.name} family declares no stream framing")
    response = web.StreamResponse(status=reply.status, headers=dict(framing.headers))
    await response.prepare(request)
    try:
        async for chunk in reply.chunks():
            for frame in translation.frames(chunk):
                await response.write(frame)
        for frame in translation.closing_frames():
            await response.write(frame)
    except UpstreamError as exc:
        await response.write(family.stream_error(exc))
    except ConnectionResetError:
        return response  # the client left; leaving ``forward`` stops the generation
    await response.write_eof()
    return response
