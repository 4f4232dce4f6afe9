"""Who may talk to the native host: our extension ids and the host's registered name.

The Chromium id is derived from the public key pinned in `extension/manifest.chrome.json`
(`scripts/build_extension.py` refuses to build when the two disagree); the Firefox id is the
manifest's `browser_specific_settings.gecko.id`.
"""

from __future__ import annotations

import base64
import hashlib

HOST_NAME = "app.bodhi.companion"
CHROME_EXTENSION_ID = "hdeebopiennnjfbdjiogokmbnnejjdma"
FIREFOX_EXTENSION_ID = "bodhi@getbodhi.app"


def chrome_id_from_key(key_b64: str) -> str:
    """Chromium's id for a manifest `key`: SHA-256 of the DER public key, first 128 bits,
    each hex digit written as a letter a-p."""
    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)
