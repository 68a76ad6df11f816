"""The voice assistant's demo page: the press-and-hold widget on a page of its own, in the
reader's language (/voice/demo?token=<a resident's or a lobby screen's token>)."""

from flask import Blueprint, render_template

bp = Blueprint("voice_demo", __name__, url_prefix="/voice")


@bp.get("/demo")
def page():
    """The voice widget alone (the token in the address is read and dropped by voice.js)."""
    return render_template("voice/demo.html")
