"""Activities and volunteers: residents sign up (or a family proxy for an elder with
X-Act-For), check in with the door's code; organizers publish, tick lists, certify hours."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.common import actor
from app.api.participation_activities.schemas import (
    ActivityCreateSchema,
    ActivityQueryArgsSchema,
    ActivitySchema,
    AttendanceSchema,
    CheckInLinkSchema,
    CheckInSchema,
    HoursCreateSchema,
    HoursSchema,
    RosterRowSchema,
    SignUpSchema,
)
from app.participation import activities
from app.urls import public_base_url

blp = Blueprint(
    "activities",
    __name__,
    url_prefix="/api/v1",
    description="Community activities, sign-ups with a waiting list, check-in, volunteer hours",
)


def _view(activity):
    return activities.activity_view(actor(), activity)


def _signup(signup):
    return {
        "id": signup.id,
        "activity_id": signup.activity_id,
        "person_id": signup.person_id,
        "status": signup.status,
        "waitlist_position": activities.waitlist_position(signup),
        "signed_up_by_id": signup.signed_up_by_id,
        "checked_in_at": signup.checked_in_at,
    }


@blp.route("/activities")
class Activities(MethodView):
    """Activities of a community."""

    @blp.arguments(ActivityQueryArgsSchema, location="query")
    @blp.response(200, ActivitySchema(many=True))
    def get(self, args):
        """Upcoming activities (of the caller's community unless one is named), soonest first."""
        found = activities.list_activities(
            actor(),
            args.get("community_id"),
            include_past=args["include_past"],
            managed_only=args["managed"],
        )
        return [_view(a) for a in found]

    @blp.arguments(ActivityCreateSchema)
    @blp.response(201, ActivitySchema)
    def post(self, data):
        """Publish an activity."""
        return _view(activities.publish(actor(), data.pop("community_id"), **data))


@blp.route("/activities/<id:activity_id>")
class ActivityById(MethodView):
    """One activity."""

    @blp.response(200, ActivitySchema)
    def get(self, activity_id):
        """Get an activity."""
        return _view(activities.get_activity(actor(), activity_id))


@blp.route("/activities/<id:activity_id>/cancel")
class ActivityCancel(MethodView):
    """Calling an activity off."""

    @blp.response(200, ActivitySchema)
    def post(self, activity_id):
        """Call the activity off (organizers); everyone signed up is told."""
        return _view(activities.cancel_activity(actor(), activity_id))


@blp.route("/activities/<id:activity_id>/signup")
class ActivitySignUp(MethodView):
    """The caller's place."""

    @blp.response(200, SignUpSchema)
    def post(self, activity_id):
        """Sign up (a place, or the waiting list when full); again changes nothing."""
        return _signup(activities.sign_up(actor(), activity_id))

    @blp.response(200, SignUpSchema)
    def delete(self, activity_id):
        """Cancel the sign-up; the first on the waiting list gets the place."""
        return _signup(activities.cancel(actor(), activity_id))


@blp.route("/activities/check-in")
class ActivityCheckIn(MethodView):
    """Check-in at the door."""

    @blp.arguments(CheckInSchema)
    @blp.response(200, SignUpSchema)
    def post(self, data):
        """Check in with the code of the door's QR link (from an hour before the start)."""
        return _signup(activities.check_in_by_token(actor(), data["token"]))


@blp.route("/activities/<id:activity_id>/check-in-link")
class ActivityCheckInLink(MethodView):
    """The door's QR link."""

    @blp.response(200, CheckInLinkSchema)
    def get(self, activity_id):
        """The link to print as a QR code at the door (organizers)."""
        token = activities.checkin_token(actor(), activity_id)
        return {"token": token, "url": f"{public_base_url()}/easy/activities/check-in/{token}"}


@blp.route("/activities/<id:activity_id>/signups")
class ActivitySignUps(MethodView):
    """The sign-up list."""

    @blp.response(200, RosterRowSchema(many=True))
    def get(self, activity_id):
        """Everyone signed up, present or waiting (organizers)."""
        return activities.roster(actor(), activity_id)


@blp.route("/activities/<id:activity_id>/signups/<id:signup_id>/attendance")
class ActivityAttendance(MethodView):
    """Ticking the list."""

    @blp.arguments(AttendanceSchema)
    @blp.response(200, SignUpSchema)
    def put(self, data, activity_id, signup_id):
        """Tick someone present (points credited) or untick (points taken back)."""
        who = actor()
        return _signup(activities.set_attendance(who, activity_id, signup_id, data["attended"]))


@blp.route("/activities/<id:activity_id>/hours/<id:person_id>")
class ActivityHours(MethodView):
    """Volunteer hours."""

    @blp.arguments(HoursCreateSchema)
    @blp.response(200, HoursSchema)
    def put(self, data, activity_id, person_id):
        """Record someone's volunteer hours (they checked in); changeable until certified."""
        return activities.record_hours(actor(), activity_id, person_id, data["hours"])


@blp.route("/volunteer-hours/<id:hours_id>/certify")
class HoursCertify(MethodView):
    """Certifying hours."""

    @blp.response(200, HoursSchema)
    def post(self, hours_id):
        """Certify recorded hours (the organizer); they earn points per hour."""
        return activities.certify_hours(actor(), hours_id)
