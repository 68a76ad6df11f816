"""All models, imported so Alembic and create_all see every table."""

# announcements and lobby screens; affairs (cases, idempotency keys, notifications, Open311);
# voice conversations; 督办 (supervisions); outbound deliveries; consultations (议事协商)
from app.models import (  # noqa: F401
    activity,
    announcement,
    case,
    consultation,
    delivery,
    idempotency,
    kiosk,
    notification,
    open311,
    points,
    supervision,
    voice,
)
from app.models.community import Building, Community, Grid, Household, StreetOffice
from app.models.organization import ORG_KINDS, Organization, organization_community
from app.models.person import (
    CARE_FLAGS,
    ROLES,
    STAFF_SIDE_ROLES,
    Invitation,
    Person,
    ProxyLink,
    RoleAssignment,
)
from app.models.security import (
    ApiToken,
    AuditLog,
    Device,
    LoginThrottle,
    RateLimit,
    WebSession,
)

__all__ = [
    "CARE_FLAGS",
    "ORG_KINDS",
    "ROLES",
    "STAFF_SIDE_ROLES",
    "ApiToken",
    "AuditLog",
    "Building",
    "Community",
    "Device",
    "Grid",
    "Household",
    "Invitation",
    "LoginThrottle",
    "Organization",
    "Person",
    "ProxyLink",
    "RateLimit",
    "RoleAssignment",
    "StreetOffice",
    "WebSession",
    "organization_community",
]
