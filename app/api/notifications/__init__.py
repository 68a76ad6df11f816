"""Notification inbox API."""
