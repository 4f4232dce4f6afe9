"""Logging: ``$BODHI_HOME/logs/bodhi.log`` rotated daily, optional stdout, secrets scrubbed."""

from __future__ import annotations

import io
import logging
import re
import sys
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from companion.core.home import private_dir, private_opener

# Every secret we issue or hold, by shape: our token prefixes (API tokens, extension
# credentials, app refresh tokens, owner-login tickets), bearer values, JWTs (app access
# tokens, ID tokens), and secrets named in a query string, form or JSON body (OIDC and OAuth
# codes, pairing codes, client secrets, provider tokens), and API keys in a query string
# (Gemini's ``?key=``).
_SECRET_NAMES = r"ticket|code|client_secret|refresh_token|access_token|id_token|token|credential"
_SECRET = re.compile(
    r"(bodhi(?:app|ext|ol|ref)_|Bearer\s+|\beyJ|"
    rf"\b(?:{_SECRET_NAMES}|key|api_key)=|[\"'](?:{_SECRET_NAMES})[\"']\s*:\s*[\"'])"
    r"[A-Za-z0-9._~+/=%-]+", re.IGNORECASE)

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(1) + "***", text)


class RedactSecrets(logging.Filter):
    """Scrub token-looking strings from a record's message (for handlers we do not format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


class RedactingFormatter(logging.Formatter):
    """Last line of defence: nothing token-shaped reaches a log line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class AccessLogger(AbstractAccessLogger):
    """Method, path without query string, status, size and time; never headers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %s %.1fms", request.method, request.path, response.status,
                         response.body_length, time * 1000)


class PrivateLogFile(TimedRotatingFileHandler):
    """The daily log; each file it creates (the first, and one per rotation) is 0600."""

    def _open(self) -> io.TextIOWrapper:
        # Always appends: a restart continues the day's file.
        return open(self.baseFilename, "a", encoding=self.encoding, errors=self.errors,
                    opener=private_opener)


def setup_logging(home: Path, level: str, to_stdout: bool) -> Path:
    log_file = private_dir(home / "logs") / "bodhi.log"
    handlers: list[logging.Handler] = [
        PrivateLogFile(log_file, when="midnight", backupCount=14, encoding="utf-8")]
    if to_stdout:
        handlers.append(logging.StreamHandler(sys.stdout))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(RedactingFormatter(_FORMAT))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level)
    # One line per upstream call would double the log and cost time on the hot path.
    # They would also log whole URLs, and an MCP server's key may be a query parameter.
    for noisy in ("httpx", "httpcore", "httpx2", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at debug level: stored secrets
    # (provider refresh tokens, the OIDC client secret) must not reach the log that way.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    return log_file
