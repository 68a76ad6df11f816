"""The caller's notification inbox (a family proxy reads the resident's)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor, paged
from app.api.notifications.schemas import (
    NotificationPageSchema,
    NotificationQueryArgsSchema,
    NotificationSchema,
    ReadAllSchema,
    UnreadCountSchema,
)
from app.people import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications")


@blp.route("/notifications")
class Notifications(MethodView):
    """My notices."""

    @blp.arguments(NotificationQueryArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """List my notices, newest first."""
        return paged(notifications.list_notifications(actor(), **args))


@blp.route("/notifications/unread-count")
class UnreadCount(MethodView):
    """Unread count."""

    @blp.response(200, UnreadCountSchema)
    def get(self):
        """How many of my notices are unread, not acknowledged, and urgent not acknowledged."""
        counts = notifications.alert_counts(actor())
        return {"unread": notifications.unread_count(actor()), **counts}


@blp.route("/notifications/<id:notification_id>/read")
class NotificationRead(MethodView):
    """Read marker."""

    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        """Mark a notice read."""
        return notifications.mark_read(actor(), notification_id)


@blp.route("/notifications/<id:notification_id>/acknowledge")
class NotificationAcknowledge(MethodView):
    """Acknowledgement."""

    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        """Acknowledge a notice (urgent help: it stops climbing, for everyone told of it)."""
        return notifications.acknowledge(actor(), notification_id)


@blp.route("/notifications/read-all")
class NotificationsReadAll(MethodView):
    """Read marker for all."""

    @blp.response(200, ReadAllSchema)
    def post(self):
        """Mark all my notices read."""
        return {"marked": notifications.mark_all_read(actor())}
