"""The worlds: the synthetic desktop (with its scripted expert) and the real desktop."""
