"""Bodhi companion: a local LLM resource server under the user's control."""

__version__ = "0.1.0"

__all__ = ["__version__"]
