"""Owner routes: what the owner's own programs (the native host, scripts) ask of the
companion, proven with the owner secret rather than a session or token.

``POST /bodhi/v1/owner/challenge`` is public: it proves the companion to the caller and hands
out the single-use nonce that the caller's next request is signed over. The others are
``@owner_only`` and call the services the CLI uses.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from companion.auth.owner_login import issue_ticket, owner_login_url
from companion.auth.principal import OWNER_USER_ID
from companion.core.owner_proof import CHALLENGE_PATH
from companion.core.schema import Schema
from companion.middleware.access import public
from companion.middleware.body_limit import small_body
from companion.middleware.docs import documented
from companion.routes.bodies import read_json
from companion.routes.keys import APPS, IDENTITY, OWNER_CHALLENGES, SERVER_INFO
from companion.routes.owner_access import owner_only

NO_STORE = {"Cache-Control": "no-store"}


class ChallengeBody(Schema):
    client_nonce: str = Field(min_length=1, max_length=200)


class ExtensionCredentialBody(Schema):
    extension_id: str = Field(min_length=1, max_length=200)
    browser: str = Field("", max_length=50)


@public
@small_body
@documented("Owner proof: a server nonce for the owner's next request", body=ChallengeBody)
async def challenge(request: web.Request) -> web.Response:
    body = ChallengeBody.model_validate(await read_json(request, ChallengeBody))
    answer = request.app[OWNER_CHALLENGES].challenge(body.client_nonce)
    return web.json_response({"server_nonce": answer.server_nonce, "proof": answer.proof,
                              "expires_in": answer.expires_in}, headers=NO_STORE)


@owner_only
@documented("Owner proof: mint the paired extension's credential", body=ExtensionCredentialBody)
async def extension_credential(request: web.Request) -> web.Response:
    body = ExtensionCredentialBody.model_validate(
        await read_json(request, ExtensionCredentialBody))
    _, raw = await request.app[APPS].extension.issue(OWNER_USER_ID, body.extension_id,
                                                     body.browser)
    return web.json_response({"credential": raw}, headers=NO_STORE)


@owner_only
@documented("Owner proof: a one-time browser sign-in link")
async def login_link(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    ticket = await issue_ticket(identity.db, identity.tickets)
    return web.json_response({"url": owner_login_url(request.app[SERVER_INFO].url, ticket)},
                             headers=NO_STORE)


def setup(app: web.Application) -> None:
    app.router.add_post(CHALLENGE_PATH, challenge)
    app.router.add_post("/bodhi/v1/owner/extension-credential", extension_credential)
    app.router.add_post("/bodhi/v1/owner/login-link", login_link)
