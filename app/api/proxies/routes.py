"""Family proxies (子女代办)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.proxies.schemas import ProxyLinkCreateSchema, ProxyLinkSchema
from app.people import proxies

blp = Blueprint("proxy_links", __name__, url_prefix="/api/v1", description="Family proxies")


def _view(link):
    return proxies.link_view(actor(), link)


@blp.route("/proxy-links")
class ProxyLinks(MethodView):
    """My proxy links."""

    @blp.response(200, ProxyLinkSchema(many=True))
    def get(self):
        """Links where I am the relative or the resident."""
        return [_view(link) for link in proxies.links_of(actor())]

    @blp.arguments(ProxyLinkCreateSchema)
    @blp.response(201, ProxyLinkSchema)
    def post(self, data):
        """Ask to act for an elderly resident; they or the committee confirm."""
        return _view(proxies.request_link(actor(), data["resident_phone"], data.get("relation")))


@blp.route("/proxy-links/<id:link_id>/confirm")
class ProxyLinkConfirm(MethodView):
    """Confirmation."""

    @blp.response(200, ProxyLinkSchema)
    def post(self, link_id):
        """Confirm a pending link (the resident, or committee staff)."""
        return _view(proxies.confirm_link(actor(), link_id))


@blp.route("/proxy-links/<id:link_id>")
class ProxyLinkById(MethodView):
    """One link."""

    @blp.response(200, ProxyLinkSchema)
    def delete(self, link_id):
        """End a link (either side, or committee staff)."""
        return _view(proxies.revoke_link(actor(), link_id))
