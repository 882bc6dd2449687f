"""Seed-compatible local entry points."""
