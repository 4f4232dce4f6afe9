"""The native-messaging host the browser extension talks to (a thin relay)."""
