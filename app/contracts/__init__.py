"""Contracts: contract types with their HTML templates, and clients' contracts."""
