"""companion/core/logs.py: no token-looking string reaches a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.core.logs import RedactingFormatter, RedactSecrets, setup_logging


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger whose handler is set up the way setup_logging sets up its own."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("tests.unit.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("token bodhiapp_abc123 used",), "token bodhiapp_*** used"),
        (("auth header %s", "Bearer xyz"), "auth header Bearer ***"),
        (("auth header %s", "bearer  abc.def-ghi_jkl~+/="), "auth header bearer  ***"),
        (("%s and %s", "bodhiapp_AAA-bbb_ccc", "Bearer eyJhbGciOi.x.y"),
         "bodhiapp_*** and Bearer ***"),
        (("key=%r", "bodhiapp_q1w2e3"), "key='bodhiapp_***'"),
    ],
)
def test_secrets_are_scrubbed(capture: tuple[logging.Logger, io.StringIO],
                              args: tuple[str, ...], expected: str) -> None:
    logger, stream = capture

    logger.warning(*args)

    line = stream.getvalue()
    assert line == f"WARNING {expected}\n"
    assert "abc123" not in line and "xyz" not in line


def test_clean_record_is_left_alone() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "loaded %s in %d ms",
                               ("model-Q4_K_M", 12), None)

    assert RedactSecrets().filter(record) is True
    assert (record.msg, record.args) == ("loaded %s in %d ms", ("model-Q4_K_M", 12))
    assert record.getMessage() == "loaded model-Q4_K_M in 12 ms"


def test_filter_rewrites_the_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", ("bodhiapp_s3cret",),
                               None)

    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == "got bodhiapp_***"


def test_secret_in_logged_exception_is_scrubbed(
        capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture

    try:
        raise KeyError("bodhiapp_leaked123")
    except KeyError:
        logger.exception("lookup failed")

    assert "leaked123" not in stream.getvalue()


def test_setup_logging_installs_the_filter_on_the_file(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        log_file = setup_logging(tmp_path, "INFO", to_stdout=False)
        installed = list(root.handlers)
        logging.getLogger("companion.test").info("token %s", "bodhiapp_zzz999")
        logging.getLogger("companion.test").debug("below the level")
        for handler in root.handlers:
            handler.flush()
        text = log_file.read_text(encoding="utf-8")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)

    assert log_file == tmp_path / "logs" / "bodhi.log"
    assert len(installed) == 1  # the file only: no stdout handler was asked for
    assert any(isinstance(f, RedactSecrets) for f in installed[0].filters)
    assert "token bodhiapp_***" in text
    assert "zzz999" not in text
    assert "below the level" not in text


def _jwt() -> str:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    return jwt.encode({"alg": "HS256"}, {"sub": "owner", "gid": "g1"},
                      OctKey.import_key("k" * 32))


def _every_secret_we_issue() -> list[str]:
    import secrets

    from companion.access.app_tokens import REFRESH_PREFIX
    from companion.access.extension import CREDENTIAL_PREFIX
    from companion.auth.owner_login import TICKET_PREFIX
    from companion.auth.tokens import TOKEN_PREFIX

    return [prefix + secrets.token_urlsafe(32)
            for prefix in (TOKEN_PREFIX, CREDENTIAL_PREFIX, REFRESH_PREFIX, TICKET_PREFIX)]


@pytest.mark.parametrize("template", [
    "GET /callback?code={}&state=s", '{{"code": "{}"}}', "refresh_token={}",
    '{{"refresh_token": "{}"}}', "{{'client_secret': '{}'}}", '{{"token": "{}"}}',
    "Authorization: Bearer {}", "POST /v1beta/models/m:generateContent?key={}&alt=sse",
    "GET /models?api_key={}",
])
def test_every_issued_secret_is_scrubbed_in_every_shape(
        capture: tuple[logging.Logger, io.StringIO], template: str) -> None:
    logger, stream = capture
    values = [*_every_secret_we_issue(), _jwt(), "K7QX-M2PD", "oidc-code-4f9a2b7c"]
    for value in values:
        logger.warning(template.format(value))
    text = stream.getvalue()
    for value in values:
        secret_part = value.split("_", 1)[-1] if value.startswith("bodhi") else value
        assert secret_part not in text, (template, value)


def test_bare_tokens_with_our_prefixes_and_jwts_are_scrubbed(
        capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    values = [*_every_secret_we_issue(), _jwt()]
    logger.warning("values: %s", " ".join(values))
    text = stream.getvalue()
    assert all(value.split("_", 1)[-1] not in text for value in values[:-1])
    assert values[-1].split(".", 1)[1] not in text
