"""督办 (supervision) API."""
