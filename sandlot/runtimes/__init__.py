"""Isolation tiers: each one a `Runtime` (see base.py) the SDK selects from."""
