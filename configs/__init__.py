"""TOML presets of neat-xbar (package data): sweep specifications and experiments."""
