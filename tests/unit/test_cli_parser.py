"""Bad command lines get one line naming the mistake, a suggestion when one is near, and a
pointer to --help; exit status 2."""

from __future__ import annotations

import pytest

from companion.cli.main import build_parser, main


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


@pytest.mark.parametrize(("argv", "expected"), [
    (["srve"], "bodhi: unknown command 'srve' — did you mean 'serve'? See 'bodhi --help'."),
    (["stauts"], "bodhi: unknown command 'stauts' — did you mean 'status'? "
                 "See 'bodhi --help'."),
    (["xyzzy"], "bodhi: unknown command 'xyzzy'. See 'bodhi --help'."),
    (["token", "craete"], "bodhi token: unknown action 'craete' — did you mean 'create'? "
                          "See 'bodhi token --help'."),
    (["status", "--prot", "9"], "bodhi status: unknown option '--prot' — did you mean "
                                "'--port'? See 'bodhi status --help'."),
    (["doctor", "--verbos=1"], "bodhi doctor: unknown option '--verbos'. "
                               "See 'bodhi doctor --help'."),
    (["models", "extra"], "bodhi models: unexpected argument 'extra'. "
                          "See 'bodhi models --help'."),
    (["chat"], "bodhi chat: missing MODEL. See 'bodhi chat --help'."),
    ([], "bodhi: missing COMMAND. See 'bodhi --help'."),
])
def test_one_line_with_a_hint(capsys: pytest.CaptureFixture[str], argv: list[str],
                              expected: str) -> None:
    assert refusal(capsys, *argv) == expected


def test_bad_choice_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    line = refusal(capsys, "token", "create", "--name", "x", "--scope", "root")
    assert line.startswith("bodhi token create: invalid value 'root' for --scope (choose "
                           "from 'scope_token_user'")
    assert line.endswith("See 'bodhi token create --help'.")


def test_bad_number_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = refusal(capsys, "chat", "m", "--max-tokens", "many")
    assert line.startswith("bodhi chat: argument --max-tokens: invalid int value: 'many'")


def test_chat_prompt_may_follow_options() -> None:
    args = build_parser().parse_args(["chat", "m", "--max-tokens", "3", "Say", "hello"])
    assert (args.model, args.prompt, args.max_tokens) == ("m", ["Say", "hello"], 3)
    args = build_parser().parse_args(["chat", "m", "Say hello", "--temperature", "0"])
    assert (args.prompt, args.temperature) == (["Say hello"], 0.0)


def test_an_unknown_option_after_the_prompt_is_named(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    assert refusal(capsys, "chat", "m", "hello", "--bad") == (
        "bodhi chat: unknown option '--bad'. See 'bodhi chat --help'.")


def test_help_and_version_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["--version"], ["chat", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    assert "bodhi" in capsys.readouterr().out
