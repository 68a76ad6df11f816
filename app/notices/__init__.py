"""Announcements (公告): compose, publish, revise, expire; who sees them."""
