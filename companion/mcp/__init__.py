"""MCP servers for the companion's clients.

Import the modules themselves (``companion.mcp.endpoint``, ``companion.mcp.stdio_process``):
this package re-exports nothing, so that the stdio bridge, a process of its own, does not load
the companion's services when it starts.
"""
