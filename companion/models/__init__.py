"""Which models exist: aliases, files in the Hugging Face cache, the embedded default."""

from companion.models.alias import AliasSource, ModelAlias
from companion.models.catalog import ModelCatalog, ResolvedModel

__all__ = ["AliasSource", "ModelAlias", "ModelCatalog", "ResolvedModel"]
