"""Which models exist: aliases, files in the Hugging Face cache, the embedded default."""

from companion.models.alias import AliasSource, ListedModel, ModelAlias, RemoteModel
from companion.models.catalog import ModelCatalog, ResolvedModel

__all__ = ["AliasSource", "ListedModel", "ModelAlias", "ModelCatalog", "RemoteModel",
           "ResolvedModel"]
