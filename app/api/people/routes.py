"""The people register: residents and workers of a community."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api.auth.schemas import PersonSchema, PinSchema
from app.api.common import actor, paged
from app.api.people.schemas import (
    PersonCreateSchema,
    PersonPageSchema,
    PersonQueryArgsSchema,
    PersonUpdateSchema,
    RoleGrantSchema,
    RoleSchema,
)
from app.people import people
from app.security import own_sign_in

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="People register")


@blp.route("/communities/<id:community_id>/people")
class People(MethodView):
    """A community's register."""

    @blp.arguments(PersonQueryArgsSchema, location="query")
    @blp.response(200, PersonPageSchema)
    def get(self, args, community_id):
        """List people (community workers; phones masked unless allowed)."""
        who = actor()
        return paged(
            people.list_people(who, community_id, **args), lambda p: people.person_view(who, p)
        )

    @blp.arguments(PersonCreateSchema)
    @blp.response(201, PersonSchema)
    def post(self, data, community_id):
        """Register a resident who signs in with phone + PIN (committee staff)."""
        who = actor()
        return people.person_view(who, people.register_resident(who, community_id, **data))


@blp.route("/people/<id:person_id>")
class PersonById(MethodView):
    """One person."""

    @blp.response(200, PersonSchema)
    def get(self, person_id):
        """Get a person (unmasked phone and care flags only for those allowed; audited)."""
        who = actor()
        return people.person_view(who, people.get_person(who, person_id))

    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonSchema)
    def patch(self, data, person_id):
        """Change a register entry (committee staff)."""
        who = actor()
        return people.person_view(who, people.update_person(who, person_id, data))


@blp.route("/people/<id:person_id>/pin")
class PersonPin(MethodView):
    """A resident's PIN."""

    @blp.arguments(PinSchema)
    @blp.response(204)
    def put(self, data, person_id):
        """Reset a PIN (committee staff, a family proxy) or change one's own (with the current)."""
        people.set_pin(
            actor(), person_id, data["pin"], current_pin=data.get("current_pin"), **own_sign_in()
        )


@blp.route("/people/<id:person_id>/roles")
class PersonRoles(MethodView):
    """Roles of a person."""

    @blp.arguments(RoleGrantSchema)
    @blp.response(201, RoleSchema)
    def post(self, data, person_id):
        """Grant a scoped role (admins; committee staff for grid workers and members)."""
        who = actor()
        return people.grant_role(who, people.get_person(who, person_id), **data)
