"""Sign-in for the JSON API: tokens, joining with an invitation, the caller's profile."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import PUBLIC
from app.api.auth.schemas import (
    JoinSchema,
    MeSchema,
    MeUpdateSchema,
    TokenRequestSchema,
    TokenSchema,
)
from app.api.common import actor
from app.people import accounts
from app.security import token_in_use

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign-in and tokens")


@blp.route("/auth/token")
class Token(MethodView):
    """Bearer tokens."""

    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.doc(security=PUBLIC)
    def post(self, data):
        """Sign in with phone + PIN or username + password; returns a bearer token."""
        return accounts.sign_in(
            data["login"],
            pin=data.get("pin"),
            password=data.get("password"),
            label=data.get("label"),
            ip=request.remote_addr,
        )

    @blp.response(204)
    def delete(self):
        """Revoke the token used for this request (sign out)."""
        accounts.sign_out(actor(), token_in_use())


@blp.route("/auth/join")
class Join(MethodView):
    """Joining with an invitation code."""

    @blp.arguments(JoinSchema)
    @blp.response(201, TokenSchema)
    @blp.doc(security=PUBLIC)
    def post(self, data):
        """Create a resident account from a committee invitation code and sign in."""
        return accounts.join_and_sign_in(**data)


@blp.route("/me")
class Me(MethodView):
    """The caller."""

    @blp.response(200, MeSchema)
    def get(self):
        """Who am I: profile, roles, preferences, proxy links (or the kiosk device)."""
        return accounts.me(actor())

    @blp.arguments(MeUpdateSchema)
    @blp.response(200, MeSchema)
    def patch(self, data):
        """Change my name or preferences (language, text size, speech speed)."""
        return accounts.update_me(actor(), data)
