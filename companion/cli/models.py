"""``bodhi models``: the model names this install offers (aliases, and the GGUF files of the
Hugging Face cache), read from disk, and the models the running companion has loaded."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from companion.cli.client import CompanionClient, not_running
from companion.cli.status import add_token_flag, loaded_models, token_of
from companion.core.settings import Settings
from companion.models import ModelCatalog
from companion.models.alias import ModelAlias
from companion.models.catalog import AliasFileError
from companion.models.files import ModelFile, ModelFiles


def add_parser(commands: Any, settings: argparse.ArgumentParser) -> None:
    models = commands.add_parser(
        "models", parents=[settings], usage="%(prog)s [options]",
        help="list models: aliases, files, loaded",
        description="List the model names this install offers (aliases, and the model files "
                    "in the Hugging Face cache) and the models the running companion has "
                    "loaded; with the companion running, also its remote API models and "
                    "router aliases.")
    add_token_flag(models)


def read_catalog(settings: Settings) -> tuple[list[ModelAlias], list[AliasFileError]]:
    """The model names on disk, and the alias files that cannot be used (shown by the
    caller rather than logged)."""
    logging.disable(logging.WARNING)
    try:
        catalog = ModelCatalog(settings.home / "aliases", settings.hf_home / "hub")
        return catalog.list(), catalog.errors
    finally:
        logging.disable(logging.NOTSET)


def size_text(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    shown = float(size)
    for unit in ("KB", "MB", "GB"):
        shown /= 1000
        if shown < 1000 or unit == "GB":
            break
    return f"{shown:.1f} {unit}"


def print_aliases(aliases: list[ModelAlias]) -> None:
    width = max([len("ALIAS"), *(len(a.alias) for a in aliases)])
    print(f"{'ALIAS':<{width}}  {'SOURCE':<8}  FILE")
    for a in aliases:
        print(f"{a.alias:<{width}}  {a.source.value:<8}  {a.repo}/{a.filename}")


def print_files(files: list[ModelFile]) -> None:
    if not files:
        print("no model files in the cache; download one with: bodhi pull REPO FILENAME")
        return
    width = max(len(f"{f.file.repo}/{f.file.filename}") for f in files)
    print(f"{'FILE':<{width}}  SIZE")
    for f in files:
        print(f"{f.file.repo + '/' + f.file.filename:<{width}}  {size_text(f.size)}")


def print_loaded(loaded: list[dict[str, Any]]) -> None:
    if not loaded:
        print("no model is loaded (a model loads on its first request)")
        return
    width = max([len("LOADED"), *(len(m["alias"]) for m in loaded)])
    print(f"{'LOADED':<{width}}  {'STATE':<9}  {'IN FLIGHT':<9}  MEMORY")
    for m in loaded:
        memory = size_text(m["rss"]) if m.get("rss") else "-"
        print(f"{m['alias']:<{width}}  {m['state']:<9}  {m['in_flight']:<9}  {memory}")


def print_remote(models: list[dict[str, Any]]) -> None:
    """API models (``record: provider id``) and router aliases (``strategy: targets``)."""
    if not models:
        print("no remote API models or router aliases (add one: bodhi api-models add)")
        return
    width = max([len("REMOTE"), *(len(m["alias"]) for m in models)])
    print(f"{'REMOTE':<{width}}  {'SOURCE':<8}  SERVED BY")
    for m in models:
        served = (f"{m['strategy']}: {', '.join(m['targets'])}" if m["source"] == "router"
                  else f"{m['api_model_id']} ({m['api_format']}): {m['model']}")
        print(f"{m['alias']:<{width}}  {m['source']:<8}  {served}")


def _remote_models(client: CompanionClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        listing = client.get_json(f"/bodhi/v1/models?page={page}&page_size=100")
        found += [m for m in listing["data"] if m["source"] in ("api", "router")]
        if page * 100 >= listing["total"]:
            return found
        page += 1


def _running(settings: Settings, token: str | None
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(loaded models, remote models) of the running companion; None when it is not."""
    with CompanionClient(settings, token) as client:
        if client.info() is None:
            return None
        client.sign_in()
        return loaded_models(client), _remote_models(client)


def command(args: argparse.Namespace, settings: Settings) -> int:
    hub = settings.hf_home / "hub"
    aliases, errors = read_catalog(settings)
    print_aliases(aliases)
    for broken in errors:
        print(f"cannot use the alias file {broken.path}: {broken.message}")
    print()
    print_files(ModelFiles(hub).list())
    print()
    running = _running(settings, token_of(args))
    if running is None:
        print(f"no model is loaded: {not_running(settings).message}")
        return 0
    loaded, remote = running
    print_remote(remote)
    print()
    print_loaded(loaded)
    return 0
