"""The extension's token store under concurrent writes, run in node with the real store.js.

Two origins whose tokens refresh at the same moment each write their new entry back into the
one table of tokens. Unserialised, the slower write puts back the other origin's old entry,
whose refresh token is already spent, and that origin's next refresh then looks like a stolen
token to the companion. The browser's storage is replaced by one that answers after a delay,
so the interleaving that is rare in a real browser happens every time here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

STORE = Path(__file__).resolve().parents[2] / "extension" / "background" / "store.js"

HARNESS = """
const data = {};
const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 5));
globalThis.chrome = {storage: {local: {
  get: (key) => later({[key]: structuredClone(data[key])}),
  set: (values) => later(Object.assign(data, structuredClone(values))),
  remove: (keys) => later(keys.forEach((k) => delete data[k])),
}}};
const store = await import(process.argv[1]);
await store.saveToken('http://a.test', {grant_id: 'a', refresh_token: 'a0'});
await store.saveToken('http://b.test', {grant_id: 'b', refresh_token: 'b0'});
await Promise.all([
  store.saveToken('http://a.test', {grant_id: 'a', refresh_token: 'a1'}),
  store.saveToken('http://b.test', {grant_id: 'b', refresh_token: 'b1'}),
  store.dropTokens({grantId: 'nobody'}),
]);
console.log(JSON.stringify(await store.tokens()));
"""


def test_concurrent_saves_of_two_origins_both_stay() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the extension's JavaScript")
    done = subprocess.run([node, "--input-type=module", "-e", HARNESS, STORE.as_uri()],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr

    stored = json.loads(done.stdout)

    assert {origin: entry["refresh_token"] for origin, entry in stored.items()} == {
        "http://a.test": "a1", "http://b.test": "b1"}
