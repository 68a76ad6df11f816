"""Consultations and votes (议事协商) over JSON."""
