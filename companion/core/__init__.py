"""The foundations every part may use: errors, settings, logs, metrics, the event bus,
secrets at rest, owner proof, the upstream HTTP seam. Imports nothing else of ours."""
