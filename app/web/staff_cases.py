"""Staff console for community affairs (/staff/cases): inbox, case detail, dispatch, notes,
merge, uploads, and cases taken down for residents (代办). Views are thin: rules live in
app/affairs (workflow, intake, queries, views). (Deadlines run as jobs: `flask jobs run`,
app/affairs/deadlines.py.)"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from app.affairs import (
    attachments,
    categories,
    common,
    intake,
    overview,
    policy,
    queries,
    supervision,
    views,
    words,
    workflow,
)
from app.infra.errors import DomainError, NotFound, invalid_field
from app.infra.text import ascii_number
from app.models.case import CASE_STATUSES, CHANNELS, OPEN_STATUSES
from app.people import communities
from app.people.auth import find_person_by_login
from app.security import current_actor
from app.web.staff import flash_error, internal_communities, nav_item

bp = Blueprint("staff_cases", __name__, url_prefix="/staff/cases")
nav_item("staff_cases.inbox", _l("Affairs"))

STAFF_CHANNELS = ("phone", "counter", "patrol")


def _int(name: str) -> int | None:
    value = request.values.get(name, "").strip()
    if not value:
        return None
    number = ascii_number(value)
    if number is None:
        raise invalid_field(name, _l("Must be a number."))
    return number


# The inbox's filters, which its pager links carry on.
_LIST_FILTERS = frozenset(
    ("community_id", "status", "assignee", "category_id", "grid_id", "channel", "overdue", "q")
    + ("due", "escalated")
)


@bp.get("/")
@login_required
def inbox():
    """The case inbox: filters, counts per status, newest first (grid workers: 我的任务)."""
    who = current_actor()
    places = internal_communities(who)
    status = request.args.get("status", "open")
    assignee = request.args.get("assignee", overview.default_inbox_assignee(who)) or None
    filters = {
        "status": status,
        "category_id": _int("category_id"),
        "grid_id": _int("grid_id"),
        "channel": request.args.get("channel") or None,
        "overdue": True if request.args.get("overdue") == "1" else None,
        "q": request.args.get("q") or None,
        "assignee": assignee,
        "due": request.args.get("due") or None,
        "escalated": True if request.args.get("escalated") == "1" else None,
    }
    page = max(1, min(_int("page") or 1, 100000))
    if not places:  # an organization's member: their assigned work
        page_obj = queries.inbox(who, status=status, page=page)
        return render_template(
            "staff/cases/inbox.html",
            page=page_obj,
            level="assignee",
            counts=None,
            places=[],
            community=None,
            filters=filters,
            categories=[],
            grids=[],
            statuses=CASE_STATUSES,
            channels=CHANNELS,
            labels=words.STAFF_STATUS_LABELS,
            channel_labels=views.CHANNEL_LABELS,
            summary=lambda c: views.case_summary(c, "assignee"),
        )
    community_id = _int("community_id") or places[0].id
    community = next((c for c in places if c.id == community_id), None)
    if community is None:
        raise NotFound()
    listed = queries.list_cases(who, community_id=community.id, page=page, **filters)
    level = listed.level
    view = render_template(
        "staff/cases/inbox.html",
        page=listed.page,
        level=level,
        counts=listed.counts,
        places=places,
        community=community,
        filters=filters,
        categories=categories.list_categories(who, community.id, include_inactive=True),
        grids=communities.list_grids(who, community.id),
        statuses=CASE_STATUSES,
        channels=CHANNELS,
        labels=words.STAFF_STATUS_LABELS,
        channel_labels=views.CHANNEL_LABELS,
        summary=lambda c: views.case_summary(c, level),
        # Only committee staff and grid workers are given cases by name (queries.assignee_choices).
        may_be_assignee=bool(who.grid_ids) or community.id in who.staff_community_ids,
        # The pager keeps the list's own filters only: any other query parameter (endpoint,
        # _anchor, _method…) would reach url_for (a 500, or a link its writer shapes).
        pager_args={k: v for k, v in request.args.items() if k in _LIST_FILTERS},
    )
    return view


@bp.get("/<id:case_id>")
@login_required
def detail(case_id):
    """One case: 督办 on top, details and timeline, and the actions grouped by what can be done
    now (处理 / 分派 / 沟通 / 督办)."""
    who = current_actor()
    case = queries.get_case(who, case_id)
    view = views.case_view(who, case)
    may_assign = policy.may(who, "assign", case)
    choices = queries.case_assignee_choices(who, case) if may_assign else None
    # Photos are shown or hidden from the public while the case is open.
    may_publish = policy.may(who, "publish_attachment", case) and case.status in OPEN_STATUSES
    page = render_template(
        "staff/cases/detail.html",
        case=case,
        view=view,
        choices=choices,
        may_publish=may_publish,
        supervisions=supervision.case_supervisions(who, case),
        may_supervise=policy.may(who, "supervise", case),
        may_fulfil=policy.may(who, "fulfil_supervision", case),
        action_labels=views.ACTION_LABELS,
        labels=words.STAFF_STATUS_LABELS,
        channel_labels=views.CHANNEL_LABELS,
    )
    return page


def _done(case_id: int, fn, message) -> object:
    try:
        fn()
        flash(str(message), "success")
    except DomainError as error:
        flash_error(error)
    return redirect(url_for(".detail", case_id=case_id))


@bp.post("/<id:case_id>/transition")
@login_required
def transition(case_id):
    """Accept, reject, start, resolve, close or reopen."""
    form = request.form
    return _done(
        case_id,
        lambda: workflow.transition(
            current_actor(),
            case_id,
            form.get("action", ""),
            note=form.get("note") or None,
            public=form.get("public") == "1",
            reason=form.get("reason") or None,
        ),
        _l("Done."),
    )


def _due(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_field("due_at", _l("Not a valid date and time.")) from None
    return local.replace(tzinfo=common._tz()) if local.tzinfo is None else local


@bp.post("/<id:case_id>/assign")
@login_required
def assign(case_id):
    """Dispatch to a worker or an organization."""
    form = request.form

    def run():
        target = form.get("assignee", "")
        kind, _sep, raw = target.partition(":")
        number = ascii_number(raw)
        if kind not in ("p", "o") or number is None:
            raise invalid_field("assignee", _l("Choose who will handle it."))
        key = "person_id" if kind == "p" else "organization_id"
        workflow.assign_case(
            current_actor(),
            case_id,
            note=form.get("note") or None,
            due_at=_due(form.get("due_at")),
            **{key: number},
        )

    return _done(case_id, run, _l("Assigned."))


@bp.post("/<id:case_id>/supervisions")
@login_required
def supervise(case_id):
    """督办: the street official sets a deadline and an instruction on an escalated case."""
    form = request.form
    return _done(
        case_id,
        lambda: supervision.supervise_case(
            current_actor(),
            case_id,
            instruction=form.get("instruction", ""),
            due_at=_due(form.get("due_at")) or _missing("due_at"),
        ),
        _l("Supervision sent."),
    )


def _missing(name: str):
    raise invalid_field(name, _l("Please fill this in."))


@bp.post("/<id:case_id>/supervisions/<id:supervision_id>/fulfil")
@login_required
def fulfil(case_id, supervision_id):
    """The committee or the handler answers a 督办: what was done."""
    return _done(
        case_id,
        lambda: supervision.fulfil_supervision(
            current_actor(), case_id, supervision_id, note=request.form.get("note", "")
        ),
        _l("Reply recorded."),
    )


@bp.post("/<id:case_id>/note")
@login_required
def note(case_id):
    """Add a public or internal note."""
    form = request.form
    return _done(
        case_id,
        lambda: workflow.add_note(
            current_actor(), case_id, form.get("text", ""), public=form.get("public") == "1"
        ),
        _l("Note added."),
    )


@bp.post("/<id:case_id>/merge")
@login_required
def merge(case_id):
    """Merge this case into another (by reference)."""
    who = current_actor()

    def run():
        target = queries.get_case_by_reference(who, request.form.get("into_reference", ""))
        workflow.merge_case(who, case_id, target.id, request.form.get("note") or None)

    return _done(case_id, run, _l("Merged."))


@bp.post("/<id:case_id>/attachments")
@login_required
def upload(case_id):
    """Add a photo or recording."""
    upload_file = request.files.get("file")

    def run():
        if upload_file is None:
            raise invalid_field("file", _l("Choose a file."))
        workflow.add_attachment(
            current_actor(), case_id, upload_file.read(), public=request.form.get("public") == "1"
        )

    return _done(case_id, run, _l("File added."))


@bp.post("/<id:case_id>/attachments/<id:attachment_id>/public")
@login_required
def attachment_public(case_id, attachment_id):
    """Show a photo publicly, or hide it."""
    return _done(
        case_id,
        lambda: workflow.set_attachment_public(
            current_actor(), case_id, attachment_id, request.form.get("public") == "1"
        ),
        _l("Saved."),
    )


@bp.get("/<id:case_id>/attachments/<id:attachment_id>")
@login_required
def attachment(case_id, attachment_id):
    """Open a photo or recording of a case the account may see."""
    item = workflow.get_attachment(current_actor(), case_id, attachment_id)
    response = send_file(attachments.path_of(item), mimetype=item.mime, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Take down a case for a resident who phoned or came in (代办), or one found on patrol."""
    who = current_actor()
    places = internal_communities(who)
    if not places:
        abort(403)
    community_id = _int("community_id") or places[0].id
    community = next((c for c in places if c.id == community_id), None)
    if community is None:
        raise NotFound()
    if request.method == "POST":
        form = request.form
        try:
            reporter_id = None
            if form.get("resident_phone"):
                person = find_person_by_login(form["resident_phone"])
                if person is None or person.community_id != community.id:
                    raise invalid_field(
                        "resident_phone", _l("No resident of this community has this number.")
                    )
                reporter_id = person.id
            case = intake.submit_case(
                who,
                community_id=community.id,
                category_id=_int("category_id"),
                description=form.get("description", ""),
                channel=form.get("channel") if form.get("channel") in STAFF_CHANNELS else None,
                reporter_id=reporter_id,
                contact_name=None if reporter_id else (form.get("contact_name") or None),
                contact_phone=None if reporter_id else (form.get("contact_phone") or None),
                building_id=_int("building_id"),
                address=form.get("address") or None,
            )
            flash(
                _(
                    "Case %(ref)s created. Please read the number to the resident: %(digits)s",
                    ref=case.reference,
                    digits=common.reference_digits(case.reference),
                ),
                "success",
            )
            return redirect(url_for(".detail", case_id=case.id))
        except DomainError as error:
            flash_error(error)
    return render_template(
        "staff/cases/new.html",
        places=places,
        community=community,
        categories=categories.list_categories(who, community.id),
        buildings=communities.list_buildings(who, community.id),
        channels=STAFF_CHANNELS,
        channel_labels=views.CHANNEL_LABELS,
        form=request.form,
    )
