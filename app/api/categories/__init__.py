"""Case categories API."""
