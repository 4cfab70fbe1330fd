"""Plumbing shared by every module. No business rules live here."""
