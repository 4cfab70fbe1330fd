"""Operators, roles, permissions (and, later, dealer scoping)."""
