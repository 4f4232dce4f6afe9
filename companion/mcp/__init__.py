"""MCP servers, user instances and the proxy."""
