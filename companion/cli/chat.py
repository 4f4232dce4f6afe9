"""``bodhi chat MODEL [PROMPT]``: chat with a model in the terminal through the running
companion's OpenAI-compatible API, the reply streamed as it is generated.

Interactive: the conversation is kept and sent with each message; ``/bye`` or Ctrl-D leaves;
Ctrl-C during a reply stops that reply (the stream is closed, so the model stops generating)
and returns to the prompt; Ctrl-C at the prompt leaves. One-shot: with a PROMPT (or a prompt
piped on stdin) the answer is printed and the command exits.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from companion.cli.client import CompanionClient
from companion.cli.status import add_token_flag, token_of
from companion.core.errors import BodhiError, NotFoundError
from companion.core.settings import Settings

PROMPT = ">>> "
CONTINUED = "... "
HELP = """Commands:
  /bye      leave (also Ctrl-D, or Ctrl-C at the prompt)
  /clear    forget the conversation so far
  /?        this help
Ctrl-C while a reply streams stops it. End a line with \\ to continue on the next one."""
SHOWN_MODELS = 8


def add_parser(commands: Any, settings: argparse.ArgumentParser) -> None:
    chat = commands.add_parser(
        "chat", parents=[settings], usage="%(prog)s [options] MODEL [PROMPT ...]",
        help="chat with a model in the terminal",
        description="Chat with MODEL through the running companion, the reply streamed as it "
                    "is generated. Without PROMPT (and with nothing piped on stdin) the chat "
                    "is interactive: /bye or Ctrl-D leaves, Ctrl-C stops a reply. With PROMPT "
                    "the answer is printed and the command exits.")
    chat.add_argument("model", metavar="MODEL", help="a model name, e.g. smollm2:135m "
                      "(see 'bodhi models')")
    chat.add_argument("prompt", nargs="*", default=[], metavar="PROMPT",
                      help="ask once and exit")
    chat.rest_dest = "prompt"
    chat.add_argument("--system", metavar="TEXT", help="a system message to start with")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="end each reply after N "
                      "tokens (default: the model's own limit)")
    chat.add_argument("--temperature", type=float, metavar="T",
                      help="sampling temperature (default: the model's)")
    chat.add_argument("--verbose", action="store_true",
                      help="after each reply, print its token counts and speed")
    add_token_flag(chat)


def _check_model(client: CompanionClient, model: str) -> None:
    """Refuse an unknown model before the first prompt, naming some that exist."""
    try:
        client.get_json(f"/v1/models/{quote(model, safe='/:')}")
    except BodhiError as exc:
        if exc.status != 404:
            raise
        names = [m["id"] for m in client.get_json("/v1/models")["data"]]
        shown = ", ".join(names[:SHOWN_MODELS]) + (", ..." if len(names) > SHOWN_MODELS
                                                    else "")
        raise NotFoundError(f"unknown model '{model}'. Available: {shown or 'none'} "
                            "(see 'bodhi models')", code="model_not_found") from exc


@dataclass(frozen=True)
class Asking:
    """What every request of one chat carries besides the messages."""

    model: str
    max_tokens: int | None = None
    temperature: float | None = None
    verbose: bool = False

    def body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        options = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        return {"model": self.model, "messages": messages,
                **{k: v for k, v in options.items() if v is not None}}


def _reply(client: CompanionClient, asking: Asking, messages: list[dict[str, str]]) -> str:
    """Stream one reply to stdout; returns its text."""
    parts: list[str] = []
    started = time.monotonic()
    stream = client.stream_chat(asking.body(messages))
    try:
        for text in stream:
            parts.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()
    finally:
        stream.close()  # on Ctrl-C: closes the connection, so the generation stops
    sys.stdout.write("\n")
    sys.stdout.flush()
    if asking.verbose:
        print(_stats(client.last_usage, time.monotonic() - started), file=sys.stderr)
    return "".join(parts)


def _stats(usage: dict[str, Any], secs: float) -> str:
    prompt, reply = usage.get("prompt_tokens", "?"), usage.get("completion_tokens", "?")
    speed = f", {reply / secs:.1f} tokens/s" if isinstance(reply, int) and secs > 0 else ""
    return f"(prompt {prompt} tokens, reply {reply} tokens in {secs:.1f} s{speed})"


def _read_message() -> str | None:
    """One message from the prompt (lines ending in \\ continue); None to leave."""
    lines: list[str] = []
    prompt = PROMPT
    while True:
        try:
            line = input(prompt)
        except EOFError:
            print()
            return None
        if not line.endswith("\\"):
            lines.append(line)
            return "\n".join(lines)
        lines.append(line[:-1])
        prompt = CONTINUED


class Conversation:
    """The messages so far, and what each line typed at the prompt does to them."""

    def __init__(self, client: CompanionClient, asking: Asking,
                 start: list[dict[str, str]]) -> None:
        self.client, self.asking, self.start = client, asking, start
        self.messages = list(start)

    def take(self, text: str) -> bool:
        """Act on one message or command; False to leave."""
        word = text.strip()
        if word == "/bye":
            return False
        if word in {"/?", "/help"}:
            print(HELP)
        elif word == "/clear":
            self.messages = list(self.start)
            print("Forgot the conversation.")
        elif word.startswith("/") and " " not in word:
            print(f"Unknown command '{word}'. /? for help.")
        elif word:
            self.ask(text)
        return True

    def ask(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})
        try:
            answer = _reply(self.client, self.asking, self.messages)
        except KeyboardInterrupt:
            self.messages.pop()  # an unfinished answer is not part of the conversation
            print("\n(stopped)")
        except BodhiError as exc:
            self.messages.pop()
            print(f"\nbodhi: {exc.message}", file=sys.stderr)
        else:
            self.messages.append({"role": "assistant", "content": answer})


def _interactive(conversation: Conversation) -> None:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    print(f"Chatting with {conversation.asking.model}. /? for help, /bye or Ctrl-D to leave.")
    while True:
        try:
            text = _read_message()
        except KeyboardInterrupt:
            print()
            return
        if text is None or not conversation.take(text):
            return


def _prompt_of(args: argparse.Namespace) -> str:
    if args.prompt:
        return " ".join(args.prompt)
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    return ""


def command(args: argparse.Namespace, settings: Settings) -> int:
    prompt = _prompt_of(args)
    start = [{"role": "system", "content": args.system}] if args.system else []
    asking = Asking(args.model, args.max_tokens, args.temperature, args.verbose)
    with CompanionClient(settings, token_of(args)) as client:
        client.running_info()
        client.sign_in()
        _check_model(client, args.model)
        if prompt:
            _reply(client, asking, [*start, {"role": "user", "content": prompt}])
        elif sys.stdin.isatty():
            _interactive(Conversation(client, asking, start))
        else:
            raise BodhiError("nothing to ask: give a PROMPT, pipe one on stdin, or run "
                             "in a terminal to chat", code="no_prompt")
    return 0
