"""Checks on repository and file names that come from users or from a hub.

Names end up as folders and files in the Hugging Face cache, so none may climb out of the
folder it belongs in: no absolute paths, no ``..`` or empty segments, no backslashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from companion.core.errors import BadRequestError

_REPO_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_-])?$")
_FILE_PART = re.compile(r"^[^/\\\x00-\x1f]+$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ALIAS = re.compile(r"^[^\s/\\.\x00-\x1f\x7f][^\s\\\x00-\x1f\x7f]{0,199}$")
_HUB_TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def check_repo(repo: str) -> str:
    """``owner/name`` as the hub spells it."""
    parts = repo.split("/")
    if (len(parts) != 2 or not all(_REPO_PART.match(p) for p in parts)
            or any(".." in p or "--" in p for p in parts)):
        raise BadRequestError(f"Invalid repository name {repo!r}: expected 'owner/name' with "
                              "letters, digits, '.', '_' or '-'.", code="invalid_repo",
                              param="repo")
    return repo


def check_filename(filename: str) -> str:
    """A relative path inside a repository."""
    parts = filename.split("/")
    if (not filename or len(filename) > 500 or any(p in {"", ".", ".."} for p in parts)
            or not all(_FILE_PART.match(p) for p in parts)):
        raise BadRequestError(f"Invalid file name {filename!r}: expected a relative path "
                              "inside the repository.", code="invalid_filename",
                              param="filename")
    return filename


def check_alias_name(name: str) -> str:
    """An alias name given through the API: 1 to 200 characters without spaces, control
    characters or backslashes, not starting with '/' or '.' (it is part of URL paths)."""
    if not _ALIAS.match(name):
        raise BadRequestError(f"Invalid alias name {name!r}: use 1 to 200 characters without "
                              "spaces or backslashes, not starting with '/' or '.'.",
                              code="invalid_alias", param="alias")
    return name


def check_revision(revision: str) -> str:
    if not _REVISION.match(revision) or ".." in revision:
        raise BadRequestError(f"Invalid revision {revision!r}.", code="invalid_revision",
                              param="revision")
    return revision


def is_safe_hub_token(value: str | None) -> bool:
    """An etag or commit id from a hub, about to become a file or folder name."""
    return value is not None and bool(_HUB_TOKEN.match(value)) and value not in {".", ".."}


_HUB_HOSTS = ("hf.co/", "huggingface.co/")


@dataclass(frozen=True)
class HubModelName:
    """A model on the Hugging Face hub: one of its files, or a quantisation to look for."""

    repo: str
    filename: str | None = None   # named outright
    quant: str | None = None      # else this quantisation (None: the default one)


def hub_model(name: str) -> HubModelName:
    """``[hf.co/]owner/repo/path/file.gguf`` or Ollama's ``hf.co/owner/repo[:QUANT]``."""
    bare = name
    for host in _HUB_HOSTS:
        bare = bare.removeprefix(host)
    parts = bare.split("/")
    if len(parts) >= 3 and parts[-1].lower().endswith(".gguf"):
        return HubModelName(check_repo("/".join(parts[:2])), check_filename("/".join(parts[2:])))
    repo, _, tag = bare.partition(":")
    if bare != name and repo.count("/") == 1:
        return HubModelName(check_repo(repo), quant=None if tag in ("", "latest") else tag)
    raise BadRequestError(f"Cannot pull {name!r}: name a model on the Hugging Face hub as "
                          "'hf.co/owner/repo:QUANT' or 'hf.co/owner/repo/file.gguf'.",
                          code="invalid_model_name", param="model")
