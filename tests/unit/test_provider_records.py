"""API model records without a server: checks, key sealing and hints, name resolution, and
router cool-downs."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.core.errors import BadRequestError, ConflictError, ServiceUnavailableError
from companion.core.secrets_box import SecretBox
from companion.models import ModelCatalog
from companion.providers import ApiModelService, Cooldowns, RouterAliasService
from companion.providers.records import ApiModelBody, key_hint
from companion.providers.routers import RouterBody
from companion.storage import Database
from companion.storage.api_models import ApiModelRepository, RouterAliasRepository


@pytest.fixture
async def services(tmp_path: Path) -> tuple[ApiModelService, RouterAliasService, Database]:
    db = await Database.open(tmp_path / "bodhi.db")
    catalog = ModelCatalog(tmp_path / "aliases", tmp_path / "hub")
    routers: list[RouterAliasService] = []
    api = ApiModelService(ApiModelRepository(db), SecretBox(b"k" * 32), catalog,
                          router_names=lambda: routers[0].names(),
                          on_change=lambda: CHANGES.append("api"))
    now = [100.0]
    routers.append(RouterAliasService(RouterAliasRepository(db), catalog, api,
                                      Cooldowns(lambda: 30, clock=lambda: now[0]),
                                      on_change=lambda: CHANGES.append("router")))
    return api, routers[0], db


CHANGES: list[str] = []


def _body(**fields: object) -> ApiModelBody:
    return ApiModelBody.model_validate({"api_format": "openai",
                                        "base_url": "https://api.example.com/v1/",
                                        "models": ["gpt"], **fields})


def test_hints_only_for_long_keys() -> None:
    assert key_hint("sk-0123456789abcd") == "…abcd"
    assert key_hint("short-key") is None


async def test_keys_are_sealed_per_row_and_never_shown(
        services: tuple[ApiModelService, RouterAliasService, Database]) -> None:
    api, _, db = services
    made = await api.create(_body(id="one", api_key="sk-0123456789abcd"))
    assert made.to_json()["api_key_hint"] == "…abcd" and "sk-0123" not in str(made.to_json())
    assert made.base_url == "https://api.example.com/v1"
    async with db.conn.execute("SELECT api_key FROM api_models") as cur:
        (sealed,) = await cur.fetchone()  # type: ignore[misc]
    assert sealed.startswith("bodhienc:v1:") and "0123456789" not in sealed
    assert api.provider("one").api_key == "sk-0123456789abcd"
    kept = await api.update("one", _body(models=["gpt", "o1"]), key_given=False)
    assert kept.has_api_key and api.provider("one").api_key == "sk-0123456789abcd"
    cleared = await api.update("one", _body(api_key=""), key_given=True)
    assert not cleared.has_api_key and api.provider("one").api_key is None
    await db.close()


async def test_names_resolve_exact_first_then_the_longest_forwarding_prefix(
        services: tuple[ApiModelService, RouterAliasService, Database]) -> None:
    api, _, db = services
    await api.create(_body(id="exact", prefix="p/", models=["x"]))
    await api.create(_body(id="all", prefix="p/", models=[], forward_all_with_prefix=True))
    await api.create(_body(id="deeper", prefix="p/q/", models=[],
                           forward_all_with_prefix=True))
    found = {name: (r.id, m) for name in ("p/x", "p/y", "p/q/z", "p/")
             if (hit := api.resolve(name)) for r, m in [hit]}
    assert found == {"p/x": ("exact", "x"), "p/y": ("all", "y"), "p/q/z": ("deeper", "z")}
    with pytest.raises(ConflictError):
        await api.create(_body(id="again", prefix="p/", models=["x"]))
    await db.close()


@pytest.mark.parametrize(("fields", "param"), [
    ({"api_format": "cohere"}, "api_format"),
    ({"base_url": "ftp://example.com"}, "base_url"),
    ({"base_url": "https://user:pw@example.com/v1"}, "base_url"),
    ({"models": ["has space"]}, "models"),
    ({"models": []}, "models"),
    ({"extra_headers": {"Content-Length": "1"}}, "extra_headers"),
    ({"extra_body": {"model": "other"}}, "extra_body"),
])
async def test_bad_fields_name_their_param(
        services: tuple[ApiModelService, RouterAliasService, Database],
        fields: dict[str, object], param: str) -> None:
    api, _, db = services
    with pytest.raises(BadRequestError) as refused:
        await api.create(_body(**fields))
    assert refused.value.param == param
    await db.close()


async def test_round_robin_rotates_and_cooling_targets_are_skipped(
        services: tuple[ApiModelService, RouterAliasService, Database]) -> None:
    api, routers, db = services
    CHANGES.clear()
    await api.create(_body(id="r", models=["a", "b"]))
    router = await routers.create(RouterBody(alias="rr", targets=["a", "b"],
                                             strategy="round_robin"))
    assert CHANGES == ["api", "router"]  # each change is announced (models.changed)
    assert [routers.order(router) for _ in range(3)] == [["a", "b"], ["b", "a"], ["a", "b"]]
    routers.cooldowns.failed("a", 7)
    assert routers.order(router) == ["b"]
    routers.cooldowns.failed("b", None)
    with pytest.raises(ServiceUnavailableError) as all_cooling:
        routers.order(router)
    assert all_cooling.value.retry_after == 7
    with pytest.raises(ConflictError):
        await api.create(_body(id="clash", models=["rr"]))
    await db.close()
