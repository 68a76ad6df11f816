"""The landing page: where each kind of user goes."""

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Links to the staff console, the easy-mode client, the kiosk and the API docs."""
    return render_template("home.html")
