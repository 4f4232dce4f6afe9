"""companion/middleware/hosts.py: which Host headers pass, from one table."""

from __future__ import annotations

import pytest

from companion.middleware.hosts import LOOPBACK_HOSTS, allowed_hosts, host_allowed, host_name

ALLOWED = allowed_hosts("127.0.0.1", "my.box:8080")

# (Host header, passes)
TABLE = [
    ("localhost", True), ("localhost:1135", True), ("LOCALHOST:1135", True),
    ("LocalHost", True), ("127.0.0.1", True), ("127.0.0.1:1135", True),
    ("127.0.0.2:1135", True), ("[::1]", True), ("[::1]:1135", True),
    ("[0:0:0:0:0:0:0:1]:1135", True), ("[::ffff:127.0.0.1]", True),
    ("[::FFFF:127.0.0.1]:1135", True), ("my.box", True), ("My.Box:8080", True),
    ("localhost:65535", True), ("localhost:1", True),
    # userinfo, and names that only start or end like ours
    ("localhost:1135@evil.example", False), ("evil.example@localhost", False),
    ("user:pass@localhost", False), ("localhost.evil.example", False),
    ("evil.example", False), ("evil.example:1135", False), ("127.0.0.1.nip.io", False),
    ("my.box.evil.example", False),
    # trailing dots: a DNS name, which a resolver may send to the network
    ("localhost.", False), ("localhost.:1135", False), ("my.box.", False),
    # IPv6 without brackets, with a zone id, malformed, or not loopback
    ("::1", False), ("::1:1135", False), ("[::1%25lo]:1135", False), ("[::1%lo]", False),
    ("[fe80::1%25eth0]", False), ("[::1", False), ("[::1]x", False), ("[::1]]:1135", False),
    ("[::2]:1135", False), ("[::]", False), ("[localhost]", False),
    # odd ports
    ("localhost:0", False), ("localhost:99999", False), ("localhost:65536", False),
    ("localhost:+1135", False), ("localhost:-1", False), ("localhost: 1135", False),
    ("localhost :1135", False), ("localhost:", False), ("localhost:1135:1135", False),
    ("localhost:0x46f", False), ("localhost:01135", False), ("127.0.0.1:", False),
    # other spellings of 127.0.0.1 that some parsers accept
    ("127.1", False), ("2130706433", False), ("0x7f.0.0.1", False), ("0177.0.0.1", False),
    ("0.0.0.0", False),
    # percent-encoding, paths, odd characters, nothing
    ("local%68ost", False), ("localhost%2e", False), ("localhost/", False),
    ("localhost/x", False), ("localhost?", False), ("localhost#", False),
    ("local host", False), ("localhost\t", False), ("", False), ("_:1135", False),
    ("-localhost", False), ("localhost\u212a", False),
]


@pytest.mark.parametrize(("header", "passes"), TABLE, ids=[repr(h) for h, _ in TABLE])
def test_host_header_table(header: str, passes: bool) -> None:
    assert host_allowed([header], ALLOWED) is passes


def test_exactly_one_host_header_is_needed() -> None:
    assert host_allowed(["localhost"], ALLOWED)
    assert not host_allowed([], ALLOWED)
    assert not host_allowed(["localhost", "localhost"], ALLOWED)
    assert not host_allowed(["localhost", "evil.example"], ALLOWED)


@pytest.mark.parametrize(("header", "name"), [
    ("LOCALHOST:1135", "localhost"), ("[0:0::1]:80", "[::1]"), ("[FD00::5]", "[fd00::5]"),
    ("localhost:1135@evil", None), ("localhost.", None), ("::1", None),
])
def test_host_name_is_canonical_or_none(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_configured_hosts() -> None:
    assert allowed_hosts("127.0.0.1", "") == LOOPBACK_HOSTS
    assert allowed_hosts("::", "") == LOOPBACK_HOSTS
    assert allowed_hosts("fd00::5", "") == LOOPBACK_HOSTS | {"[fd00::5]"}
    assert allowed_hosts("127.0.0.1", "[FD00:0::5]:8080") == LOOPBACK_HOSTS | {"[fd00::5]"}
