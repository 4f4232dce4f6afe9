"""The OpenAPI 3.1 document (``GET /openapi.json``), generated from the route table.

Every route's handler declares what it does with ``@documented`` (``middleware/docs.py``) and
who may call it with its access rule (``middleware/access.py``); this module walks
``app.router`` and turns both into one operation per (method, path): the request body and
success reply from the same pydantic models the handler validates and shapes with, the
security requirement from the rule, and the error replies in the path's API family's envelope
with the statuses the rule, a body and path parameters imply. An undeclared route is left out,
which the route-table test catches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from companion import __version__
from companion.auth.principal import PrincipalKind
from companion.families import ApiFamily, family_for
from companion.middleware.access import PUBLIC_RULE, AccessRule, rule_for_handler
from companion.middleware.docs import RouteDoc, doc_for
from companion.routes.error_schemas import ERROR_SCHEMAS
from companion.routes.owner_access import is_owner_only

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerToken": {"type": "http", "scheme": "bearer",
                    "description": "An API token (bodhiapp_...), an app token or the paired "
                                   "extension's credential."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "bodhiapp_session_id",
                      "description": "A signed-in browser session."},
    "anthropicKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                     "description": "An API token where Anthropic clients send their key."},
    "geminiKey": {"type": "apiKey", "in": "header", "name": "x-goog-api-key",
                  "description": "An API token where Gemini clients send their key."},
    "geminiQueryKey": {"type": "apiKey", "in": "query", "name": "key",
                       "description": "An API token as Gemini's ?key= parameter."},
    "ownerProof": {"type": "apiKey", "in": "header", "name": "X-Bodhi-Owner-Proof",
                   "description": "The owner's programs: a proof over a server nonce "
                                  "(X-Bodhi-Owner-Nonce) made with the owner secret."},
}
_TOKEN_KINDS = frozenset({PrincipalKind.API_TOKEN, PrincipalKind.APP_TOKEN,
                          PrincipalKind.EXTENSION})
_KIND_WORDS = {PrincipalKind.SESSION: "a browser session", PrincipalKind.API_TOKEN: "an API token",
               PrincipalKind.APP_TOKEN: "an app token",
               PrincipalKind.EXTENSION: "the paired extension's credential",
               PrincipalKind.ANONYMOUS: "no credential"}
_FAMILY_KEYS = {ApiFamily.ANTHROPIC: ("anthropicKey",),
                ApiFamily.GEMINI: ("geminiKey", "geminiQueryKey")}
_REASONS = {400: "Bad request", 401: "Missing or wrong credentials",
            403: "Not allowed for this caller", 404: "Not found", 409: "Conflict",
            413: "Request body too large", 429: "Too many requests",
            502: "Upstream failed", 503: "Not available now"}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
# aiohttp's own resources that are not API routes.
_SKIP_METHODS = frozenset({"HEAD", "OPTIONS", "*"})


def routes(app: web.Application) -> Iterator[tuple[str, str, Any]]:
    """(METHOD, OpenAPI path, handler) for every route of the app, HEAD duplicates left out."""
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        if route.method in _SKIP_METHODS:
            continue
        yield route.method, _PARAM.sub(r"{\1}", resource.canonical), route.handler


Mode = Literal["validation", "serialization"]


class Schemas:
    """Every model's JSON schema, made in one go so that two models of one name (in two
    modules) get distinct component names."""

    def __init__(self, docs: list[RouteDoc]) -> None:
        wanted: dict[tuple[type[BaseModel], Mode], None] = {}
        for doc in docs:
            if doc.body is not None:
                wanted[(doc.body, "validation")] = None
            if isinstance(doc.response, type):
                wanted[(doc.response, "serialization")] = None
        for model in ERROR_SCHEMAS.values():
            wanted[(model, "serialization")] = None
        refs, top = models_json_schema(list(wanted),
                                       ref_template="#/components/schemas/{model}")
        self.refs: dict[tuple[Any, Mode], dict[str, Any]] = dict(refs)
        self.components: dict[str, Any] = top.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: Mode) -> dict[str, Any]:
        return self.refs[(model, mode)]

    def response(self, doc: RouteDoc) -> dict[str, Any]:
        if isinstance(doc.response, type):
            return self.ref(doc.response, "serialization")
        return dict(doc.response) if doc.response is not None else {}


def _security(rule: AccessRule, family: ApiFamily, owner: bool) -> list[dict[str, list[str]]]:
    if owner:
        return [{"ownerProof": []}]
    if not rule.resolve:
        return []
    kinds = rule.kinds if rule.kinds is not None else _TOKEN_KINDS | {PrincipalKind.SESSION}
    schemes: list[str] = []
    if kinds & _TOKEN_KINDS:
        schemes += ["bearerToken", *_FAMILY_KEYS.get(family, ())]
    if PrincipalKind.SESSION in kinds:
        schemes.append("sessionCookie")
    required: list[dict[str, list[str]]] = [{name: []} for name in schemes]
    return [{}, *required] if rule.anonymous_ok else required


def _who(rule: AccessRule, owner: bool) -> str:
    if owner:
        return "The owner's own programs (owner proof)."
    if not rule.resolve:
        return "Public."
    parts = ["Anyone; credentials are used when sent." if rule.anonymous_ok
             else f"Needs role {rule.role.value} or higher." if rule.role else "Signed in."]
    if rule.kinds is not None:
        parts.append("Only with " + " or ".join(sorted(_KIND_WORDS[k] for k in rule.kinds))
                     + ".")
    if rule.app_scope:
        parts.append(f"App tokens need the scope '{rule.app_scope}'.")
    if rule.all_models:
        parts.append("Not a credential limited to some models.")
    return " ".join(parts)


def _error_statuses(doc: RouteDoc, rule: AccessRule, has_params: bool, owner: bool
                    ) -> list[int]:
    statuses = set(doc.errors)
    if doc.body is not None or doc.query:
        statuses.add(400)
    if doc.body is not None:
        statuses.add(413)
    if has_params:
        statuses.add(404)
    if owner or (rule.resolve and not rule.anonymous_ok):
        statuses.add(401)
    if owner or (rule.resolve and (rule.role is not None or rule.app_scope)):
        statuses.update({401, 403})
    return sorted(statuses)


def _content(media: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {media: {"schema": dict(schema)}}


def _success(doc: RouteDoc, schemas: Schemas) -> dict[str, Any]:
    reply: dict[str, Any] = {"description": "Success"}
    content: dict[str, Any] = {}
    if doc.media is not None:
        content.update(_content(doc.media, schemas.response(doc)))
    if doc.stream is not None:
        content.update(_content(doc.stream, {"type": "string"}))
    if content:
        reply["content"] = content
    return reply


def operation(method: str, path: str, handler: Any, doc: RouteDoc,
              schemas: Schemas) -> dict[str, Any]:
    family = family_for(path)
    owner = is_owner_only(handler)
    rule = PUBLIC_RULE if owner else rule_for_handler(handler)
    params = _PARAM.findall(path)
    op: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_"),
        "summary": doc.summary,
        "description": " ".join(filter(None, [doc.description, _who(rule, owner)])),
        "tags": [handler.__module__.rsplit(".", 1)[-1]],
        "security": _security(rule, family, owner),
        "responses": {str(status): _success(doc, schemas)
                      for status in sorted({doc.status, *doc.also})},
    }
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in params]
    parameters += [{"name": q.name, "in": "query", "required": q.required,
                    "description": q.description, "schema": dict(q.schema)} for q in doc.query]
    if parameters:
        op["parameters"] = parameters
    if doc.body is not None:
        op["requestBody"] = {"required": doc.body_required, "content": _content(
            doc.body_media, schemas.ref(doc.body, "validation"))}
    error = schemas.ref(ERROR_SCHEMAS[family.value.name], "serialization")
    for status in _error_statuses(doc, rule, bool(params), owner):
        content = (_content("text/html", {"type": "string"}) if status in doc.error_pages
                   else _content("application/json", error))
        op["responses"][str(status)] = {"description": _REASONS.get(status, "Error"),
                                        "content": content}
    op["responses"]["5XX"] = {"description": "Server or upstream error",
                              "content": _content("application/json", error)}
    return op


def build_document(app: web.Application, url: str | None = None) -> dict[str, Any]:
    declared = [(method, path, handler, doc) for method, path, handler in routes(app)
                if (doc := doc_for(handler)) is not None]
    schemas = Schemas([doc for *_, doc in declared])
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler, doc in declared:
        paths.setdefault(path, {})[method.lower()] = operation(method, path, handler, doc,
                                                              schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Bodhi companion API", "version": __version__,
                 "description": "Bodhi's own API and the OpenAI, Ollama, Anthropic and "
                                "Gemini compatible APIs of a local Bodhi companion."},
        # One tag per route module, in name order (Swagger UI lists them so).
        "tags": [{"name": name} for name in sorted({op["tags"][0] for item in paths.values()
                                                    for op in item.values()})],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.components.items())),
                       "securitySchemes": SECURITY_SCHEMES},
    }
    if url:
        document["servers"] = [{"url": url}]
    return document
