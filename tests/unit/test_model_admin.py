"""GGUF headers, alias files through the AliasStore, catalog errors, model file deletion."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import yaml

from companion.core.errors import BadRequestError, ConflictError, NotFoundError
from companion.models import ModelCatalog
from companion.models.alias_store import AliasStore
from companion.models.files import ModelFiles
from companion.models.gguf import GGUFError, read_info, read_metadata
from tests.unit.conftest import AddModel

REPO = "test-org/tiny-GGUF"


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf_bytes(arch: str = "qwen2", ctx: int = 4096, file_type: int = 15,
               template: str | None = "{{ messages }}") -> bytes:
    """A minimal but well-formed GGUF v3 header (no tensors)."""
    kvs = [_string("general.architecture") + struct.pack("<I", 8) + _string(arch),
           _string(f"{arch}.context_length") + struct.pack("<II", 4, ctx),
           _string("general.file_type") + struct.pack("<II", 4, file_type),
           # An array of strings, as the tokenizer vocabulary is stored: skipped.
           _string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + _string("a")
           + _string("b"),
           _string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + b"\0" * 8]
    if template is not None:
        kvs.append(_string("tokenizer.chat_template") + struct.pack("<I", 8) + _string(template))
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)


def test_gguf_header_of_the_real_model(model_path: Path) -> None:
    info = read_info(model_path)
    assert (info.architecture, info.context_length, info.quantization) == ("llama", 8192,
                                                                           "Q4_1")
    assert info.has_chat_template and info.size_label == "135M"


def test_gguf_header_fields(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes())
    info = read_info(path)
    assert (info.architecture, info.context_length, info.quantization) == ("qwen2", 4096,
                                                                           "Q4_K_M")
    assert info.chat_template == "{{ messages }}"
    assert "tokenizer.ggml.tokens" in read_metadata(path)  # skipped, not kept
    path.write_bytes(gguf_bytes(template=None))
    assert not read_info(path).has_chat_template


@pytest.mark.parametrize("data", [b"", b"GGML" + b"\0" * 20, gguf_bytes()[:-5],
                                  b"GGUF" + struct.pack("<IQQ", 3, 0, 10**9)])
def test_broken_gguf_files_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(GGUFError):
        read_info(path)


@pytest.fixture
def store(tmp_path: Path, hub: Path) -> tuple[AliasStore, ModelCatalog, Path]:
    aliases = tmp_path / "aliases"
    aliases.mkdir()
    catalog = ModelCatalog(aliases, hub)
    return AliasStore(aliases, catalog), catalog, aliases


BODY = {"alias": "tiny:chat", "repo": REPO, "filename": "tiny-Q4_K_M.gguf",
        "context_params": ["--ctx-size 2048"], "request_params": {"temperature": 0.1}}


def test_alias_store_writes_the_yaml_the_catalog_reads(
        store: tuple[AliasStore, ModelCatalog, Path], add_model: AddModel) -> None:
    aliases, catalog, folder = store
    add_model(REPO, "tiny-Q4_K_M.gguf")
    aliases.create(BODY)
    assert yaml.safe_load((folder / "tiny_chat.yaml").read_text()) == {**BODY,
                                                                      "snapshot": "main"}
    assert catalog.resolve("tiny:chat").path.name == "tiny-Q4_K_M.gguf"
    with pytest.raises(ConflictError):
        aliases.create(BODY)
    aliases.update("tiny:chat", {**BODY, "alias": "tiny:renamed"})
    assert [p.name for p in folder.glob("*.yaml")] == ["tiny_chat.yaml"]
    assert aliases.get("tiny:renamed").alias == "tiny:renamed"
    with pytest.raises(NotFoundError):
        aliases.get("tiny:chat")
    copied = aliases.copy(f"{REPO}:Q4_K_M", "from-file")
    assert copied.filename == "tiny-Q4_K_M.gguf" and copied.source.value == "user"
    aliases.delete("from-file")
    assert not (folder / "from-file.yaml").exists()


@pytest.mark.parametrize(("change", "param"), [
    ({"colour": "red"}, "colour"), ({"repo": "../x"}, "repo"),
    ({"filename": "../../etc/passwd"}, "filename"), ({"snapshot": "../main"}, "revision"),
    ({"context_params": ["--x 'unbalanced"]}, "context_params"), ({"source": "model"}, "source"),
    ({"alias": "my alias"}, "alias"), ({"alias": "/abs"}, "alias"), ({"alias": ".hidden"}, "alias"),
    ({"alias": "back\\slash"}, "alias"), ({"alias": "x" * 201}, "alias"),
])
def test_alias_store_refuses_bad_aliases(store: tuple[AliasStore, ModelCatalog, Path],
                                         change: dict[str, object], param: str) -> None:
    aliases, _, folder = store
    with pytest.raises(BadRequestError) as err:
        aliases.create({**BODY, **change})
    assert err.value.param is not None and err.value.param.startswith(param)
    assert list(folder.glob("*.yaml")) == []


def test_catalog_reports_broken_files_and_keeps_the_rest(
        store: tuple[AliasStore, ModelCatalog, Path]) -> None:
    aliases, catalog, folder = store
    aliases.create(BODY)
    (folder / "bad.yaml").write_text("alias: bad\nrepo: [oops\n")
    (folder / "typo.yaml").write_text(f"alias: typo\nrepo: {REPO}\nfilename: f.gguf\nctx: 1\n")
    (folder / "twin.yaml").write_text(f"alias: tiny:chat\nrepo: {REPO}\nfilename: f.gguf\n")
    assert "tiny:chat" in [a.alias for a in catalog.list()]
    errors = {e.path.name: e.message for e in catalog.errors}
    assert "not valid YAML" in errors["bad.yaml"]
    assert errors["typo.yaml"] == "unknown field 'ctx'"
    assert "already defined in tiny_chat.yaml" in errors["twin.yaml"]
    with pytest.raises(NotFoundError) as err:
        catalog.resolve("bad")
    assert "bad.yaml" in err.value.message and err.value.code == "alias_file_invalid"


def test_model_file_delete(hub: Path, add_model: AddModel) -> None:
    link = add_model(REPO, "tiny-Q4_K_M.gguf", content=gguf_bytes())
    add_model(REPO, "tiny-Q4_K_M.gguf", commit="b" * 40, ref=None, content=gguf_bytes())
    files = ModelFiles(hub)
    (listed,) = [f for f in files.list() if f.file.snapshot == "a" * 40]
    assert listed.info is not None and listed.info.quantization == "Q4_K_M"
    with pytest.raises(ConflictError):
        files.delete(REPO, "tiny-Q4_K_M.gguf", lambda path: path == link.resolve())
    with pytest.raises(BadRequestError):
        files.delete(REPO, "../x.gguf", lambda path: False)
    assert files.delete(REPO, "tiny-Q4_K_M.gguf", lambda path: False) == 2
    assert files.list() == []
    assert list(hub.rglob("blobs/*")) == []
    with pytest.raises(NotFoundError):
        files.delete(REPO, "tiny-Q4_K_M.gguf", lambda path: False)
