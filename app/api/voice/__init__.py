"""The voice assistant API (语音助手): text, recordings, WebSocket streaming, speech out."""
