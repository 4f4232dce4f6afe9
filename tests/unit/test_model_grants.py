"""A credential limited to some models (an app grant, or an API token with model grants) sees
and reaches only those: every listing is filtered, and a name outside the grant answers exactly
like a name that does not exist, in each API family's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from companion.auth import ApiTokenService
from companion.auth.tokens import TokenScope
from tests.unit.apps_harness import OWNER_SESSION, Harness, bearer, harness
from tests.unit.conftest import AddModel
from tests.unit.test_model_admin import gguf_bytes

__all__ = ["harness"]

GRANTED = "test-org/open-GGUF:Q4_0"
IN_CACHE = "test-org/secret-GGUF:Q4_0"   # a file in the cache, not granted
MISSING_FILE = "secret:alias"             # a user alias whose error would name its repository
BROKEN = "broken"                         # an alias file that cannot be read
UNKNOWN = "no-such-model"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def cache(add_model: AddModel, tmp_path: Path) -> None:
    add_model("test-org/open-GGUF", "open-Q4_0.gguf", content=gguf_bytes())
    add_model("test-org/secret-GGUF", "secret-Q4_0.gguf", content=gguf_bytes())
    aliases = tmp_path / "aliases"
    aliases.mkdir(exist_ok=True)
    (aliases / "secret_alias.yaml").write_text(
        "alias: secret:alias\nrepo: test-org/private-GGUF\nfilename: private-Q8_0.gguf\n")
    (aliases / "broken.yaml").write_text("alias: broken\nrepo: [oops\n")


@pytest.fixture
async def limited_token(tokens: ApiTokenService, cache: None) -> dict[str, str]:
    _, raw = await tokens.create("limited", TokenScope.POWER_USER, models=[GRANTED])
    return bearer(raw)


@pytest.fixture(params=["app token", "API token"])
async def limited(request: pytest.FixtureRequest, harness: Harness, tokens: ApiTokenService,
                  cache: None) -> dict[str, str]:
    """An app token of a grant for one model, or a power-user API token for that model."""
    if request.param == "API token":
        _, raw = await tokens.create("limited", TokenScope.POWER_USER, models=[GRANTED])
        return bearer(raw)
    granted = await harness.granted(scopes=["chat", "embeddings", "models"], models=[GRANTED])
    return bearer(granted["access_token"])


def _probes(name: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [("GET", f"/v1/models/{name}", None),
            ("POST", "/v1/chat/completions", {"model": name, "messages": HI}),
            ("POST", "/v1/embeddings", {"model": name, "input": "x"}),
            ("POST", "/api/show", {"model": name}),
            ("POST", "/api/chat", {"model": name, "messages": HI}),
            ("POST", "/api/generate", {"model": name}),
            ("POST", "/api/generate", {"model": name, "keep_alive": 0}),
            ("POST", "/api/embed", {"model": name, "input": "x"}),
            ("POST", f"/bodhi/v1/models/{name}/load", None),
            ("POST", f"/bodhi/v1/models/{name}/unload", None)]


async def _answers(harness: Harness, headers: dict[str, str], name: str) -> list[Any]:
    answers = []
    for method, path, body in _probes(name):
        resp = await harness.client.request(method, path, json=body, headers=headers)
        answers.append((path.replace(name, "<name>"), resp.status,
                        (await resp.text()).replace(name, "<name>")))
    return answers


async def test_names_outside_the_grant_answer_like_unknown_names(
        harness: Harness, limited: dict[str, str]) -> None:
    unknown = await _answers(harness, limited, UNKNOWN)
    assert {status for _, status, _ in unknown} <= {403, 404}
    for name in (IN_CACHE, MISSING_FILE, BROKEN):
        answers = await _answers(harness, limited, name)
        assert answers == unknown, name
        assert not any(secret in text for _, _, text in answers
                       for secret in ("private-GGUF", "private-Q8_0", "broken.yaml"))


async def test_listings_show_only_granted_models(harness: Harness,
                                                 limited: dict[str, str]) -> None:
    async def get(path: str) -> Any:
        resp = await harness.client.get(path, headers=limited)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    assert [m["id"] for m in (await get("/v1/models"))["data"]] == [GRANTED]
    bodhi = await get("/bodhi/v1/models")
    assert [m["alias"] for m in bodhi["data"]] == [GRANTED] and bodhi["errors"] == []
    assert [f["repo"] for f in (await get("/bodhi/v1/models/files"))["data"]] == [
        "test-org/open-GGUF"]
    assert [m["name"] for m in (await get("/api/tags"))["models"]] == [GRANTED]
    assert (await get("/api/ps"))["models"] == []


async def test_an_unlimited_caller_still_sees_everything(harness: Harness, cache: None) -> None:
    files = await (await harness.client.get("/bodhi/v1/models/files",
                                            headers=OWNER_SESSION)).json()
    assert len(files["data"]) == 2
    listing = await (await harness.client.get("/bodhi/v1/models", headers=OWNER_SESSION)).json()
    assert {MISSING_FILE, IN_CACHE, GRANTED} <= {m["alias"] for m in listing["data"]}
    assert [e["file"] for e in listing["errors"]] == ["broken.yaml"]
    chat = await harness.client.post("/v1/chat/completions", headers=OWNER_SESSION,
                                     json={"model": MISSING_FILE, "messages": HI})
    assert chat.status == 404 and "private-GGUF" in await chat.text()


async def test_catalog_management_refuses_a_model_limited_token(
        harness: Harness, tokens: ApiTokenService, limited_token: dict[str, str]) -> None:
    _, raw = await tokens.create("unlimited", TokenScope.POWER_USER)
    for method, path in (("GET", "/bodhi/v1/models/alias"),
                         ("GET", f"/bodhi/v1/models/alias/{MISSING_FILE}"),
                         ("POST", f"/bodhi/v1/models/alias/{IN_CACHE}/copy"),
                         ("DELETE", "/bodhi/v1/models/files?repo=test-org/secret-GGUF"
                                    "&filename=secret-Q4_0.gguf"),
                         ("GET", "/bodhi/v1/models/files/pull")):
        refused = await harness.client.request(method, path, headers=limited_token, json={})
        assert refused.status == 403, path
        assert (await refused.json())["error"]["code"] == "auth_error-models_limited"
    allowed = await harness.client.get("/bodhi/v1/models/alias", headers=bearer(raw))
    assert allowed.status == 200
