"""The voice assistant API (语音助手): text, recordings, WebSocket streaming, speech out."""

from flask import Flask


def init_app(app: Flask) -> None:
    """What the voice API needs besides its blueprint `routes.blp` (create_app calls this): the
    WebSocket route (flask-sock) on its own blueprint, and cached speech answered in front of
    Flask (app/api/voice/cached.py)."""
    from app.api.voice.cached import CachedSpeech
    from app.api.voice.stream import ws_bp

    app.register_blueprint(ws_bp)
    app.wsgi_app = CachedSpeech(app.wsgi_app, app)
