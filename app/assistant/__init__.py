"""The voice assistant's bridge between the voice library (voice/) and the domains."""
