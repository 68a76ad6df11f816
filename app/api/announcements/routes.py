"""Announcements: compose and publish (staff), read and acknowledge (residents)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.announcements.schemas import (
    AckSchema,
    AnnouncementCreateSchema,
    AnnouncementPageSchema,
    AnnouncementQueryArgsSchema,
    AnnouncementSchema,
    AnnouncementUpdateSchema,
    FollowUpSchema,
    ImageUploadSchema,
    RevisionSchema,
)
from app.api.common import actor, paged
from app.notices import acknowledgements, announcements, audience, pictures

blp = Blueprint(
    "announcements",
    __name__,
    url_prefix="/api/v1",
    description="Announcements for the app, lobby screens and the voice line",
)


@blp.route("/announcements")
class Announcements(MethodView):
    """Announcements the caller may see."""

    @blp.arguments(AnnouncementQueryArgsSchema, location="query")
    @blp.response(200, AnnouncementPageSchema)
    def get(self, args):
        """List announcements (residents: for their building; staff: all, drafts too)."""
        who = actor()
        page = audience.list_announcements(who, **args)
        acked = acknowledgements.acked_by(who, [a.id for a in page.items])
        return paged(page, lambda a: audience.announcement_view(who, a, acked))

    @blp.arguments(AnnouncementCreateSchema)
    @blp.response(201, AnnouncementSchema)
    def post(self, data):
        """Post an announcement (committee staff); it goes out at once unless a draft."""
        who = actor()
        return audience.announcement_view(who, announcements.create_announcement(who, **data))


@blp.route("/announcements/<id:announcement_id>")
class AnnouncementById(MethodView):
    """One announcement."""

    @blp.response(200, AnnouncementSchema)
    def get(self, announcement_id):
        """Get an announcement."""
        who = actor()
        a = audience.get_announcement(who, announcement_id)
        return audience.announcement_view(who, a, acknowledgements.acked_by(who, [a.id]))

    @blp.arguments(AnnouncementUpdateSchema)
    @blp.response(200, AnnouncementSchema)
    def patch(self, data, announcement_id):
        """Edit an announcement (screens update at once; the edit is kept in the history)."""
        who = actor()
        expected = data.pop("revision", None)
        return audience.announcement_view(
            who, announcements.update_announcement(who, announcement_id, data, expected)
        )


@blp.route("/announcements/<id:announcement_id>/publish")
class AnnouncementPublish(MethodView):
    """Publishing a draft."""

    @blp.response(200, AnnouncementSchema)
    def post(self, announcement_id):
        """Publish a draft now (or at its publish_at)."""
        who = actor()
        return audience.announcement_view(
            who, announcements.publish_announcement(who, announcement_id)
        )


@blp.route("/announcements/<id:announcement_id>/withdraw")
class AnnouncementWithdraw(MethodView):
    """Withdrawing."""

    @blp.response(200, AnnouncementSchema)
    def post(self, announcement_id):
        """Withdraw an announcement from every screen and the app."""
        who = actor()
        return audience.announcement_view(
            who, announcements.withdraw_announcement(who, announcement_id)
        )


@blp.route("/announcements/<id:announcement_id>/revisions")
class AnnouncementRevisions(MethodView):
    """Edit history."""

    @blp.response(200, RevisionSchema(many=True))
    def get(self, announcement_id):
        """The edit history (community workers)."""
        return [audience.revision_view(r) for r in audience.history(actor(), announcement_id)]


@blp.route("/announcements/<id:announcement_id>/ack")
class AnnouncementAck(MethodView):
    """A resident's acknowledgement."""

    @blp.response(200, AckSchema)
    def post(self, announcement_id):
        """Acknowledge with one tap (again: no change)."""
        return acknowledgements.acknowledge(actor(), announcement_id)


@blp.route("/announcements/<id:announcement_id>/follow-up")
class AnnouncementFollowUp(MethodView):
    """Residents still to reach."""

    @blp.response(200, FollowUpSchema)
    def get(self, announcement_id):
        """Who has not acknowledged: elderly living alone first, then by age (audited)."""
        return acknowledgements.follow_up(actor(), announcement_id)


@blp.route("/announcements/<id:announcement_id>/image")
class AnnouncementImage(MethodView):
    """The picture."""

    @blp.arguments(ImageUploadSchema, location="files")
    @blp.response(200, AnnouncementSchema)
    def put(self, files, announcement_id):
        """Attach or replace the picture."""
        who = actor()
        data = files["image"].read(9 * 1024 * 1024)
        return audience.announcement_view(who, pictures.set_image(who, announcement_id, data))

    @blp.response(200, AnnouncementSchema)
    def delete(self, announcement_id):
        """Remove the picture."""
        who = actor()
        return audience.announcement_view(who, pictures.remove_image(who, announcement_id))
