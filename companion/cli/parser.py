"""The ``bodhi`` argument parser's manners: a mistyped command or flag gets one line that names
it, suggests the nearest real one and points at ``--help`` (exit status 2), instead of
argparse's usage dump."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

USAGE_ERROR = 2

_INVALID_CHOICE = re.compile(r"argument (?P<arg>[^:]+): invalid choice: '(?P<value>[^']*)'")
_REQUIRED = re.compile(r"the following arguments are required: (?P<names>.+)")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the nearest choice, or nothing when none is near."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{near[0]}'?" if near else ""


class CliParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors read as one line; subcommands inherit it."""

    # A trailing ``nargs="*"`` positional that also takes the words given after an option
    # (``bodhi chat MODEL --max-tokens 9 PROMPT``), which argparse alone would refuse.
    rest_dest: str | None = None

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen = self._chosen(parsed)
            if chosen.rest_dest and not any(word.startswith("-") for word in extras):
                setattr(parsed, chosen.rest_dest, [*getattr(parsed, chosen.rest_dest), *extras])
            else:
                chosen.unknown(extras)
        return parsed

    def _chosen(self, parsed: argparse.Namespace) -> CliParser:
        """The innermost subcommand's parser that ``parsed`` went through."""
        parser = self
        while True:
            action = _subcommands(parser)
            name = getattr(parsed, action.dest, None) if action else None
            if action is None or name not in action.choices:
                return parser
            parser = action.choices[name]

    def unknown(self, extras: list[str]) -> NoReturn:
        word = next((w for w in extras if w.startswith("-")), extras[0])
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            self.fail(f"unknown option '{flag}'{did_you_mean(flag, self._flags())}")
        self.fail(f"unexpected argument '{word}'")

    def _flags(self) -> list[str]:
        return [flag for action in self._actions for flag in action.option_strings]

    def error(self, message: str) -> NoReturn:
        choice = _INVALID_CHOICE.match(message)
        if choice and choice["arg"] in {"COMMAND", "ACTION"}:
            commands = _subcommands(self)
            known = commands.choices if commands else ()
            what = "command" if choice["arg"] == "COMMAND" else "action"
            self.fail(f"unknown {what} '{choice['value']}'"
                      f"{did_you_mean(choice['value'], known)}")
        if choice:
            self.fail(f"invalid value '{choice['value']}' for {choice['arg']}"
                      f"{message[choice.end():].rstrip()}")
        required = _REQUIRED.match(message)
        if required:
            self.fail(f"missing {required['names']}")
        self.fail(message)

    def fail(self, message: str) -> NoReturn:
        end = "" if message.endswith("?") else "."
        self.exit(USAGE_ERROR, f"{self.prog}: {message}{end} See '{self.prog} --help'.\n")


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The parser's subcommands action (its ``choices`` map names to parsers), or None."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None
