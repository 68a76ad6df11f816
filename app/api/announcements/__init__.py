"""Announcements API."""
