"""Linli voice library."""
