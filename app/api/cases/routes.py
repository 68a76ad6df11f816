"""Community affairs (诉求): raise, follow, dispatch and close cases; Open311 key management."""

from flask import current_app, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.affairs import (
    attachments,
    common,
    counts,
    intake,
    open311,
    queries,
    views,
    words,
    workflow,
)
from app.api.cases import dumping
from app.api.cases.schemas import (
    AssigneeChoicesSchema,
    AssignSchema,
    AttachmentFileSchema,
    AttachmentFormSchema,
    AttachmentSchema,
    AttachmentUpdateSchema,
    CaseCreatedSchema,
    CaseCreateSchema,
    CasePageSchema,
    CaseQueryArgsSchema,
    CaseSchema,
    CaseSummarySchema,
    CaseUpdateSchema,
    CountsSchema,
    FiguresSchema,
    InboxArgsSchema,
    MergeSchema,
    NoteCreatedSchema,
    NoteSchema,
    Open311KeyCreateSchema,
    Open311KeyIssuedSchema,
    Open311KeySchema,
    RatingSchema,
    ReferenceArgsSchema,
    SimilarArgsSchema,
    StatusTextSchema,
    TransitionSchema,
)
from app.api.common import actor
from app.http_idempotency import idempotent
from app.infra import idempotency
from app.infra.errors import invalid_field

blp = Blueprint(
    "cases",
    __name__,
    url_prefix="/api/v1",
    description="Community affairs (诉求): cases from request to resolution",
)

_CREATED = CaseCreatedSchema()

IDEMPOTENCY_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": idempotency.KEY.pattern,
            },
            "description": "Send the same key when retrying: the request takes effect once.",
        }
    ]
}


def case_page(page, level: str, counts: dict | None = None):
    """A page of list rows (`queries.summary_select()` rows) answered as CasePageSchema dumps
    it, without marshmallow: the rows are already the documented shape, datetimes go out in
    ISO 8601 (tests/affairs/test_query_count.py compares the two)."""
    items = views.summary_rows(page.items, level)
    body = {"items": items, "total": page.total, "page": page.page, "pages": page.pages}
    if counts is not None:
        body["counts"] = counts
    return current_app.json.api_response(body)


@blp.route("/cases")
class Cases(MethodView):
    """Cases."""

    @blp.arguments(CaseQueryArgsSchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args):
        """List cases: mine=true for my own; else a community's (all for its workers).

        A resident's list of a community holds its public cases, and may not be filtered by
        grid, channel, deadline or escalation, which it does not show (403)."""
        listed = queries.list_cases(actor(), rows=True, **args)
        return case_page(listed.page, listed.level, listed.counts)

    @idempotent(late=True)
    @blp.doc(**IDEMPOTENCY_DOC)
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseCreatedSchema)
    def post(self, data):
        """Raise a case from the app, a family proxy, staff (代办), a grid worker or a kiosk."""
        submitted = intake.submit(actor(), **data)
        location = url_for("cases.CaseById", case_id=submitted.case.id)
        # Dumped as CaseCreatedSchema would, the quick way (this runs under the write lock).
        body = current_app.json.response(dumping.dump(_CREATED, submitted.view))
        return body, 201, {"Location": location}


@blp.route("/cases/similar")
class SimilarCases(MethodView):
    """Duplicate suggestions."""

    @blp.arguments(SimilarArgsSchema, location="query")
    @blp.response(200, CaseSummarySchema(many=True))
    def get(self, args):
        """Open cases of a category in the same building or nearby (before submitting)."""
        return views.summary_rows(intake.similar_cases(actor(), rows=True, **args), "public")


@blp.route("/cases/by-reference")
class CaseByReference(MethodView):
    """A case by its public reference."""

    @blp.arguments(ReferenceArgsSchema, location="query")
    @blp.response(200, CaseSchema)
    def get(self, args):
        """Find a case by reference, e.g. 2026-000123."""
        who = actor()
        return views.case_view(who, queries.get_case_by_reference(who, args["reference"]))


@blp.route("/cases/status-text")
class CaseStatusText(MethodView):
    """Progress in plain words."""

    @blp.arguments(ReferenceArgsSchema, location="query")
    @blp.response(200, StatusTextSchema)
    def get(self, args):
        """A sentence about a case's progress for a screen or voice (查进度)."""
        text = queries.case_status_for_reference(actor(), args["reference"])
        reference = common.normalize_reference(args["reference"])
        return {
            "reference": reference,
            "text": text,
            "digits": common.reference_digits(reference),
            "spoken": words.spoken_reference(reference),
        }


@blp.route("/cases/<id:case_id>")
class CaseById(MethodView):
    """One case."""

    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """Get a case (public view, the reporter's view, or a worker's; reporter reads audited)."""
        who = actor()
        return views.case_view(who, queries.get_case(who, case_id))

    @blp.arguments(CaseUpdateSchema)
    @blp.response(200, CaseSchema)
    def patch(self, data, case_id):
        """Correct the category, location or visibility of an open case (committee staff)."""
        who = actor()
        return views.case_view(who, workflow.update_case(who, case_id, data))


@blp.route("/cases/<id:case_id>/transitions")
class CaseTransitions(MethodView):
    """The state machine."""

    @blp.arguments(TransitionSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Accept, reject, start, resolve, confirm (with rating), reopen or close a case."""
        who = actor()
        return views.case_view(who, workflow.transition(who, case_id, **data))


@blp.route("/cases/<id:case_id>/assignment")
class CaseAssignment(MethodView):
    """Dispatch."""

    @blp.arguments(AssignSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Assign to a grid worker, staff member or organization (committee staff)."""
        who = actor()
        return views.case_view(who, workflow.assign_case(who, case_id, **data))


@blp.route("/cases/<id:case_id>/notes")
class CaseNotes(MethodView):
    """Timeline notes."""

    @blp.arguments(NoteSchema)
    @blp.response(201, NoteCreatedSchema)
    def post(self, data, case_id):
        """Add a note (workers: public or internal; the reporter's: for the committee only)."""
        return workflow.add_note(actor(), case_id, data["text"], public=data["public"])


@blp.route("/cases/<id:case_id>/merge")
class CaseMerge(MethodView):
    """Duplicates."""

    @blp.arguments(MergeSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Merge this case into another of the community; returns that case (committee staff)."""
        who = actor()
        into_id = data.get("into_id")
        if into_id is None:
            if not data.get("into_reference"):
                raise invalid_field("into_id", "into_id or into_reference")
            into_id = queries.get_case_by_reference(who, data["into_reference"]).id
        return views.case_view(who, workflow.merge_case(who, case_id, into_id, data.get("note")))


@blp.route("/cases/<id:case_id>/support")
class CaseSupport(MethodView):
    """ "Me too"."""

    @blp.response(200, CaseSchema)
    def post(self, case_id):
        """Say "me too" on an open public case of your community (once per person)."""
        who = actor()
        return views.case_view(who, workflow.support_case(who, case_id))


@blp.route("/cases/<id:case_id>/rating")
class CaseRating(MethodView):
    """Satisfaction."""

    @blp.arguments(RatingSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Rate a closed case 1–5 with an optional comment (the reporter, once)."""
        who = actor()
        return views.case_view(who, workflow.rate_case(who, case_id, **data))


@blp.route("/cases/<id:case_id>/attachments")
class CaseAttachments(MethodView):
    """Photos and recordings."""

    @idempotent()
    @blp.doc(**IDEMPOTENCY_DOC)
    @blp.arguments(AttachmentFormSchema, location="form")
    @blp.arguments(AttachmentFileSchema, location="files")
    @blp.response(201, AttachmentSchema)
    def post(self, form, files, case_id):
        """Upload a photo (JPEG/PNG/WebP, metadata stripped) or a recording (multipart)."""
        data = files["file"].read()
        attachment = workflow.add_attachment(actor(), case_id, data, public=form["public"])
        return views.attachment_row(case_id, attachment)


@blp.route("/cases/<id:case_id>/attachments/<id:attachment_id>")
class CaseAttachmentById(MethodView):
    """One attachment."""

    @blp.doc(responses={"200": {"description": "The file (image/* or audio/*)."}})
    def get(self, case_id, attachment_id):
        """Download a photo or recording (public photos of public cases: anyone who may read)."""
        attachment = workflow.get_attachment(actor(), case_id, attachment_id)
        response = send_file(
            attachments.path_of(attachment), mimetype=attachment.mime, max_age=0, conditional=True
        )
        response.headers["Cache-Control"] = "private, max-age=300"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Disposition"] = "inline"
        return response

    @blp.arguments(AttachmentUpdateSchema)
    @blp.response(200, AttachmentSchema)
    def patch(self, data, case_id, attachment_id):
        """Show a photo in the public view, or hide it (committee staff)."""
        attachment = workflow.set_attachment_public(actor(), case_id, attachment_id, data["public"])
        return views.attachment_row(case_id, attachment)


@blp.route("/inbox")
class Inbox(MethodView):
    """Assigned work."""

    @blp.arguments(InboxArgsSchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args):
        """Cases assigned to me or my organization, most urgent first."""
        return case_page(queries.inbox(actor(), rows=True, **args), "assignee")


@blp.route("/communities/<id:community_id>/case-counts")
class CaseCounts(MethodView):
    """Counts per status."""

    @blp.response(200, CountsSchema)
    def get(self, community_id):
        """Cases per status, open and overdue, in a community (its workers)."""
        return {"counts": counts.status_counts(actor(), community_id)}


@blp.route("/communities/<id:community_id>/case-figures")
class CaseFigures(MethodView):
    """Figures for the lobby screen."""

    @blp.response(200, FiguresSchema)
    def get(self, community_id):
        """This month: cases received, resolved and the average rating."""
        return queries.community_figures(actor(), community_id)


@blp.route("/communities/<id:community_id>/case-assignees")
class CaseAssignees(MethodView):
    """Dispatch choices."""

    @blp.response(200, AssigneeChoicesSchema)
    def get(self, community_id):
        """Workers and organizations cases can be assigned to (committee staff)."""
        return queries.assignee_choices(actor(), community_id)


@blp.route("/communities/<id:community_id>/open311-keys")
class Open311Keys(MethodView):
    """Open311 API keys of a community."""

    @blp.response(200, Open311KeySchema(many=True))
    def get(self, community_id):
        """List the community's Open311 keys (committee staff)."""
        return open311.list_keys(actor(), community_id)

    @blp.arguments(Open311KeyCreateSchema)
    @blp.response(201, Open311KeyIssuedSchema)
    def post(self, data, community_id):
        """Issue a key to a third-party system; the key is shown only now (committee staff)."""
        key, row = open311.issue_key(actor(), community_id, data["name"])
        fields = (
            "id",
            "community_id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        return {"api_key": key, **{name: getattr(row, name) for name in fields}}


@blp.route("/open311-keys/<id:key_id>")
class Open311KeyById(MethodView):
    """One Open311 key."""

    @blp.response(200, Open311KeySchema)
    def delete(self, key_id):
        """Revoke a key (committee staff)."""
        return open311.revoke_key(actor(), key_id)
