"""``python -m native_host``: what the launcher written by ``bodhi install-native-host`` runs."""

import sys

from native_host.host import main

sys.exit(main())
