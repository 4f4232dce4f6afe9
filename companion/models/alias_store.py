"""``AliasStore``: create, change, copy and delete user aliases as YAML files.

The API writes the same ``$BODHI_HOME/aliases/*.yaml`` files a user may edit by hand (one
alias per file, written atomically), and reads them back through the ``ModelCatalog``, so
hand edits and API edits are the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from companion.core.atomic import write_atomic
from companion.core.errors import BadRequestError, ConflictError, NotFoundError
from companion.core.home import PRIVATE_FILE_MODE, private_dir
from companion.models.alias import AliasSource, ModelAlias
from companion.models.catalog import ModelCatalog, alias_file_stem
from companion.models.names import check_alias_name, check_filename, check_repo, check_revision

_FIELDS = ("alias", "repo", "filename", "snapshot", "context_params", "request_params")


def alias_document(alias: ModelAlias) -> dict[str, Any]:
    """The alias as its YAML file holds it."""
    return {name: getattr(alias, name) for name in _FIELDS}


def _validated(data: dict[str, Any]) -> ModelAlias:
    if "source" in data:
        raise BadRequestError("'source' cannot be set; API aliases are user aliases.",
                              code="invalid_value", param="source")
    try:
        alias = ModelAlias.model_validate({**data, "source": AliasSource.USER})
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"])
        raise BadRequestError(f"Invalid alias: '{param}': {first['msg']}", code="invalid_value",
                              param=param) from exc
    check_alias_name(alias.alias)
    check_repo(alias.repo)
    check_filename(alias.filename)
    check_revision(alias.snapshot)
    return alias


class AliasStore:
    def __init__(self, aliases_dir: Path, catalog: ModelCatalog) -> None:
        self._dir = aliases_dir
        self._catalog = catalog

    def get(self, name: str) -> ModelAlias:
        if self._catalog.alias_file(name) is None:
            raise NotFoundError(f"No user alias '{name}'.", code="db_error-item_not_found")
        return self._catalog.resolve_alias(name)

    def create(self, data: dict[str, Any]) -> ModelAlias:
        alias = _validated(data)
        if self._catalog.alias_file(alias.alias) is not None:
            raise ConflictError(f"The alias '{alias.alias}' already exists.",
                                code="alias_exists", param="alias")
        self._write(self._new_file(alias.alias), alias)
        return alias

    def update(self, name: str, data: dict[str, Any]) -> ModelAlias:
        path = self._file_of(name)
        alias = _validated({"alias": name, **data})
        if alias.alias != name and self._catalog.alias_file(alias.alias) is not None:
            raise ConflictError(f"The alias '{alias.alias}' already exists.",
                                code="alias_exists", param="alias")
        self._write(path, alias)
        return alias

    def copy(self, name: str, new_name: str) -> ModelAlias:
        return self.derive(name, new_name)

    def derive(self, name: str, new_name: str, request_params: dict[str, Any] | None = None,
               context_params: list[str] | None = None) -> ModelAlias:
        """A new user alias on the file of alias ``name`` (any source), with its defaults
        updated by ``request_params`` and followed by ``context_params``."""
        source = self._catalog.resolve_alias(name)
        return self.create({**alias_document(source), "alias": new_name,
                            "request_params": {**source.request_params, **(request_params or {})},
                            "context_params": [*source.context_params, *(context_params or [])]})

    def delete(self, name: str) -> None:
        self._file_of(name).unlink(missing_ok=True)
        self._catalog.refresh()

    def _file_of(self, name: str) -> Path:
        path = self._catalog.alias_file(name)
        if path is None:
            raise NotFoundError(f"No user alias '{name}'.", code="db_error-item_not_found")
        return path

    def _new_file(self, name: str) -> Path:
        stem = alias_file_stem(name)
        path, n = self._dir / f"{stem}.yaml", 1
        while path.exists():
            n += 1
            path = self._dir / f"{stem}-{n}.yaml"
        return path

    def _write(self, path: Path, alias: ModelAlias) -> None:
        import yaml  # loaded by the first alias written, not at start

        text = yaml.safe_dump(alias_document(alias), sort_keys=False, allow_unicode=True)
        private_dir(self._dir)
        # A temporary file, fsync, then a rename: a kill -9 or a full disk mid-write leaves
        # the old file or the new one, never a half-written YAML.
        write_atomic(path, text.encode("utf-8"), PRIVATE_FILE_MODE)
        self._catalog.refresh()
