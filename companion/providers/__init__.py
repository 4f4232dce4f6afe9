"""Remote API models: records, keys, the provider calls and router aliases."""
