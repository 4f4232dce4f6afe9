"""companion/inference/launcher.py: llama-server flags in, xllamacpp CommonParams out.

Building ``CommonParams`` loads no model, so this runs without llama.cpp doing any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xllamacpp

from companion.inference.launcher import build_params, parse_args
from companion.inference.process import LaunchConfig, LlamaProcess


def test_documented_flags_parse() -> None:
    args = parse_args(["-m", "/models/m.gguf", "--host", "127.0.0.2", "--port", "9001",
                       "--alias", "my-model", "-c", "4096", "-np", "2", "-t", "3",
                       "--embeddings", "--jinja", "--chat-template", "chatml"])

    assert args.model == "/models/m.gguf"
    assert (args.host, args.port) == ("127.0.0.2", 9001)
    assert args.alias == "my-model"
    assert (args.ctx_size, args.parallel, args.threads) == (4096, 2, 3)
    assert args.embeddings is True
    assert args.jinja is True
    assert args.chat_template == "chatml"


def test_long_forms_and_defaults() -> None:
    args = parse_args(["--model", "m.gguf", "--ctx-size", "512", "--parallel", "1",
                       "--threads", "2", "--embedding", "--pooling", "cls", "--no-jinja",
                       "-ngl", "0", "-s", "7", "-b", "64", "-ub", "32", "--no-warmup"])

    assert (args.ctx_size, args.parallel, args.threads) == (512, 1, 2)
    assert args.embeddings is True and args.pooling == "cls"
    assert args.jinja is False
    assert (args.n_gpu_layers, args.seed, args.batch_size, args.ubatch_size) == (0, 7, 64, 32)
    assert args.no_warmup is True

    defaults = parse_args(["-m", "m.gguf"])
    assert (defaults.host, defaults.port, defaults.alias) == ("127.0.0.1", 8080, None)
    assert (defaults.ctx_size, defaults.parallel) == (0, 4)
    assert defaults.embeddings is False and defaults.jinja is True


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-m", "m.gguf", "--flash-attn"], "--flash-attn"),
        (["-m", "m.gguf", "--rope-scaling", "linear"], "--rope-scaling"),
        (["-m", "m.gguf", "-fa"], "-fa"),
        (["-m", "m.gguf", "--embed"], "--embed"),  # no abbreviations
    ],
)
def test_unknown_flags_exit_2_naming_the_flag(capsys: pytest.CaptureFixture[str],
                                              argv: list[str], named: str) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)

    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("bodhi launcher:")
    assert named in err
    assert "BODHI_LLAMA_SERVER" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--port", "8080"], "-m/--model"),
        (["-m", "m.gguf", "-c", "big"], "-c/--ctx-size"),
        (["-m", "m.gguf", "--pooling", "max"], "--pooling"),
    ],
)
def test_bad_flag_values_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                named: str) -> None:
    with pytest.raises(SystemExit) as info:
        parse_args(argv)

    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("bodhi launcher:")
    assert named in err


def test_build_params_for_chat() -> None:
    params = build_params(parse_args(["-m", "/models/m.gguf", "--host", "127.0.0.1",
                                      "--port", "9001", "--alias", "chat", "-c", "2048",
                                      "-np", "3", "-t", "2", "--chat-template", "chatml",
                                      "-s", "42"]))

    assert params.model.path == "/models/m.gguf"
    assert params.model_alias == {"chat"}
    assert params.hostnames == ["127.0.0.1"]
    assert params.port == 9001
    assert params.n_ctx == 2048
    assert params.n_parallel == 3
    assert params.cpuparams.n_threads == 2
    assert params.chat_template == "chatml"
    assert params.use_jinja is True
    assert params.sampling.seed == 42
    assert params.embedding is False


def test_build_params_for_embeddings_defaults_to_mean_pooling() -> None:
    params = build_params(parse_args(["-m", "e.gguf", "--embeddings"]))

    assert params.embedding is True
    assert params.pooling_type == xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN


def test_build_params_pooling_choice_and_no_alias() -> None:
    params = build_params(parse_args(["-m", "e.gguf", "--embedding", "--pooling", "cls",
                                      "--no-jinja"]))

    assert params.pooling_type == xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_CLS
    assert params.use_jinja is False
    assert params.model_alias == set()


def test_chat_template_file_is_read(tmp_path: Path) -> None:
    template = tmp_path / "t.jinja"
    template.write_text("{{ messages[0].content }}", encoding="utf-8")

    params = build_params(parse_args(["-m", "m.gguf", "--chat-template-file", str(template)]))

    assert params.chat_template == "{{ messages[0].content }}"


def test_key_and_cors_come_from_the_environment_like_llama_server() -> None:
    args = parse_args(["-m", "m.gguf"])
    params = build_params(args, {"LLAMA_API_KEY": "k1,k2", "LLAMA_ARG_CORS_ORIGINS": ""})

    assert params.api_keys == ["k1", "k2"]
    assert (params.cors_origins, params.cors_origins_explicit) == ("", True)
    open_params = build_params(args, {})
    assert open_params.api_keys == [] and open_params.cors_origins_explicit is False


def test_the_companions_own_flags_come_last(tmp_path: Path) -> None:
    """Whatever the admin's and the alias's flags say, the last value of each flag wins."""
    config = LaunchConfig(llama_server="", log_dir=tmp_path, ready_timeout=1.0, threads_http=12,
                          default_flags=("--model", "/other.gguf", "--port", "1",
                                         "--threads-http", "1", "--no-jinja"))
    process = LlamaProcess("mine", Path("/mine.gguf"), ["--host", "0.0.0.0", "--alias", "x",
                                                        "--pooling", "cls"],
                           config, client=None)  # type: ignore[arg-type]

    argv = process._argv(4242, embeddings=True)
    args = parse_args(argv[argv.index("companion.inference.launcher") + 1:])

    assert (args.model, args.host, args.port, args.alias) == ("/mine.gguf", "127.0.0.1",
                                                              4242, "mine")
    assert args.threads_http == 12 and args.embeddings is True
    assert args.pooling == "cls" and args.jinja is False  # defaults the flags may change


def test_children_share_the_cores_and_given_thread_flags_win(tmp_path: Path) -> None:
    config = LaunchConfig(llama_server="", log_dir=tmp_path, ready_timeout=1.0, threads_http=12,
                          default_flags=(), cores=4)

    def args_for(flags: list[str], children: int) -> Any:
        process = LlamaProcess("m", Path("/m.gguf"), flags, config,
                               client=None,  # type: ignore[arg-type]
                               children=lambda: children)
        argv = process._argv(4242, embeddings=False)
        return parse_args(argv[argv.index("companion.inference.launcher") + 1:])

    alone, two, five = args_for([], 1), args_for([], 2), args_for([], 5)
    assert (alone.threads, alone.threads_batch, alone.poll) == (4, 4, 0)
    assert (two.threads, two.threads_batch) == (2, 2)
    assert five.threads == 1
    given = args_for(["--threads", "3", "--poll", "50"], 2)
    assert (given.threads, given.threads_batch, given.poll) == (3, 2, 50)
    params = build_params(given, {})
    assert (params.cpuparams.n_threads, params.cpuparams.poll) == (3, 50)
    assert params.cpuparams_batch.poll == 50
