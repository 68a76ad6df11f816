"""The territory.

Street office (街道) → community (社区) → grid (网格) → building (楼栋) → household (户).
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext

from app.extensions import db
from app.models.base import TimestampMixin


class StreetOffice(TimestampMixin, db.Model):
    """街道办事处: oversees several communities."""

    __tablename__ = "street_office"

    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(40), nullable=False, unique=True)
    name = db.Column(db.String(120), nullable=False)
    phone = db.Column(db.String(40))

    communities = db.relationship("Community", back_populates="street_office")


class Community(TimestampMixin, db.Model):
    """社区: the unit every record and every permission is scoped to."""

    __tablename__ = "community"

    id = db.Column(db.Integer, primary_key=True)
    street_office_id = db.Column(
        db.Integer, db.ForeignKey("street_office.id"), nullable=False, index=True
    )
    code = db.Column(db.String(40), nullable=False, unique=True)
    name = db.Column(db.String(120), nullable=False)
    address = db.Column(db.String(255))
    phone = db.Column(db.String(40))
    office_hours = db.Column(db.String(120))

    street_office = db.relationship("StreetOffice", back_populates="communities")
    grids = db.relationship("Grid", back_populates="community", order_by="Grid.id")
    buildings = db.relationship("Building", back_populates="community", order_by="Building.id")


class Grid(TimestampMixin, db.Model):
    """网格: a patch of the community looked after by grid workers."""

    __tablename__ = "grid"
    __table_args__ = (db.UniqueConstraint("community_id", "name", name="uq_grid_community_name"),)

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False)

    community = db.relationship("Community", back_populates="grids")
    buildings = db.relationship("Building", back_populates="grid")


class Building(TimestampMixin, db.Model):
    """楼栋."""

    __tablename__ = "building"
    __table_args__ = (
        db.UniqueConstraint("community_id", "name", name="uq_building_community_name"),
    )

    id = db.Column(db.Integer, primary_key=True)
    community_id = db.Column(db.Integer, db.ForeignKey("community.id"), nullable=False, index=True)
    grid_id = db.Column(db.Integer, db.ForeignKey("grid.id"), index=True)
    name = db.Column(db.String(80), nullable=False)
    latitude = db.Column(db.Float)
    longitude = db.Column(db.Float)

    community = db.relationship("Community", back_populates="buildings")
    grid = db.relationship("Grid", back_populates="buildings")
    households = db.relationship("Household", back_populates="building")


class Household(TimestampMixin, db.Model):
    """户: a flat in a building (unit + room)."""

    __tablename__ = "household"
    __table_args__ = (
        db.UniqueConstraint("building_id", "unit", "room", name="uq_household_building_unit_room"),
    )

    id = db.Column(db.Integer, primary_key=True)
    building_id = db.Column(db.Integer, db.ForeignKey("building.id"), nullable=False, index=True)
    unit = db.Column(db.String(20), nullable=False, default="")
    room = db.Column(db.String(20), nullable=False)

    building = db.relationship("Building", back_populates="households")
    members = db.relationship("Person", back_populates="household")

    @property
    def community_id(self) -> int:
        """The community the household belongs to."""
        return self.building.community_id

    @property
    def label(self) -> str:
        """Building-unit-room label: 3号楼2单元501 (on an English page "3号楼, unit 2, 501")."""
        return Household.format_label(self.building.name, self.unit, self.room)

    @staticmethod
    def format_label(building: str, unit: str | None, room: str, translate=gettext) -> str:
        """`label` from its parts; `translate`: the request's gettext (a list may pass one
        bound to its translations once, for many rows)."""
        if has_request_context():  # in the reader's language (the catalog gives the form above)
            if unit:
                return translate(
                    "%(building)s, unit %(unit)s, %(room)s",
                    building=building,
                    unit=unit,
                    room=room,
                )
            return translate("%(building)s, %(room)s", building=building, room=room)
        # Outside a request (jobs, the CLI) text is written in Chinese, the community's language.
        unit = f"{unit}单元" if unit else ""
        return f"{building}{unit}{room}"
