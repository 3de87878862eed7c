"""SQLAlchemy models: the geography, people, devices, sessions and the audit trail.

Times are stored as timezone-aware UTC. Units form one tree per scheme; ``path`` holds the
ids from the root down (``/1/7/42/``) so a whole subtree is one indexed prefix query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .clock import utcnow
from .extensions import db

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        """What ``db.Model`` is, for the type checker: Flask-SQLAlchemy builds it at run time,
        so mypy cannot see it as a declarative base."""

else:
    Model = db.Model


def table(model: type[Model]) -> Table:
    """The Core table a model is mapped to, for queries written with the Core API."""
    # SQLAlchemy types ``__table__`` as the wider FromClause (a model may map a join or a
    # select); every model here maps one declared Table.
    return cast(Table, model.__table__)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Unit(Model):
    __tablename__ = "units"
    __table_args__ = (
        UniqueConstraint("scheme", "code", name="uq_units_scheme_code"),
        CheckConstraint("level IN ('province', 'district', 'ward', 'group')", name="level"),
        CheckConstraint("adult_population IS NULL OR adult_population >= 0", name="population"),
        CheckConstraint(
            "target_rate IS NULL OR (target_rate > 0 AND target_rate <= 1)", name="target_rate"
        ),
        # Subtrees are found by a path's prefix (LIKE '/1/2/%'): on PostgreSQL only a
        # pattern index serves that under a collation other than C.
        Index("ix_units_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        Index("ix_units_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    path: Mapped[str] = mapped_column(String(400), default="")
    adult_population: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The adult population the figures use (API §6): its own, else the sum of its
    # children's; null when no unit at or below it knows one. Kept by store/figures.py in
    # the same transaction as every change to the tree, so /stats never sums a subtree.
    effective_population: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Position in the change sequence tablets pull by (see store/changes.py).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

    @property
    def ref(self) -> str:
        return f"{self.scheme}:{self.code}"


class User(Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'district', 'supervisor', 'canvasser')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when role or units change: access tokens carrying an older `ver` are refused.
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Assignment(Model):
    """A user's unit: a canvasser's working area, a supervisor's ward, a district officer's
    district. Ending an assignment keeps the row (the grace period counts from ends_at)."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_user_id", "user_id"),
        Index("ix_assignments_unit_id", "unit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", index=True)

    unit: Mapped[Unit] = relationship()


class Device(Model):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_user_id", "user_id"),)

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # SHA-256 of the secret the app made beside the device id (API v1.1); null for a device
    # registered before credentials existed, until its owner presents one.
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_mutation_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class RefreshFamily(Model):
    """One login's chain of rotated refresh tokens; revoking it ends the whole chain."""

    __tablename__ = "refresh_families"
    __table_args__ = (
        Index("ix_refresh_families_user_id", "user_id"),
        Index("ix_refresh_families_device_id", "device_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.device_id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RefreshToken(Model):
    """One refresh token of a family. The secret part is an HMAC of the id under the JWT key,
    so nothing secret is stored and a lost response can be answered with the same pair."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("refresh_families.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The access token issued beside this refresh token, kept to re-issue the same pair.
    access_jti: Mapped[str] = mapped_column(String(36))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rotated_from_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class LoginFailure(Model):
    """A failed login, counted per username and per client address in a sliding window.
    Kept in the database so every server process sees the same counts."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_action", "action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON


class ChangeCounter(Model):
    """SQLite: one row, the last position handed out in the change sequence. Taking the next
    value locks the row until commit, so positions are handed out in commit order (SQLite's
    writers are serialised anyway). Unused on PostgreSQL (store/changes.py)."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ChangeXidShift(Model):
    """PostgreSQL: one row, added to a transaction's id to make its change position, so that
    positions stay above those written before transaction ids were used (the counter's), or
    before the database was restored onto another cluster (store/changes.py). Only read by
    writers: no writer waits on it."""

    __tablename__ = "change_xid_shift"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift: Mapped[int] = mapped_column(BigInteger, default=0)


class Household(Model):
    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_ward_address", "ward_id", "address_norm"),
        Index("ix_households_group_id", "group_id"),
        Index("ix_households_change_seq", "change_seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    address: Mapped[str] = mapped_column(String(500))
    address_norm: Mapped[str] = mapped_column(String(500))
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The first position recorded: the reference for `gps_far_from_household`.
    first_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    head_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Derived from the counting visits (domain/rules.derive_counters); never sent by tablets.
    adults: Mapped[int | None] = mapped_column(Integer, nullable=True)
    smartphones: Mapped[int | None] = mapped_column(Integer, nullable=True)
    installed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority_subjects: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority_installed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("households.id"), nullable=True)
    created_by_device: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Visit(Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_household_id", "household_id"),
        Index("ix_visits_ward_id", "ward_id"),
        Index("ix_visits_canvasser_visited_at", "canvasser_id", "visited_at"),
        Index("ix_visits_change_seq", "change_seq"),
        # The review queue (docs/api-supervision.md): one backward scan gives flagged and priority
        # visits first, then newest first, whatever the ward's size.
        Index("ix_visits_queue", "ward_id", "queue_rank", "visited_at", "id"),
        # The ward dashboard's canvassers' table (store/canvasser_figures.py): a ward's visits
        # grouped by what their figures depend on, read from this index alone.
        Index(
            "ix_visits_ward_canvasser",
            "ward_id",
            "canvasser_id",
            "voided",
            "review_status",
            "flags",
            "installed_during",
            "visited_at",
        ),
        CheckConstraint(
            "review_status IN ('pending', 'approved', 'rejected', 'flagged')", name="review"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"))
    ward_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), nullable=True)
    canvasser_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(String(36))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20))
    adults: Mapped[int | None] = mapped_column(Integer, nullable=True)
    smartphones: Mapped[int | None] = mapped_column(Integer, nullable=True)
    installed_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    installed_during: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority_subjects: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority_installed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    come_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Ordering key of the visit's HLC (or the server's receipt HLC when clock_suspect).
    hlc: Mapped[str] = mapped_column(String(120))
    order_ms: Mapped[int] = mapped_column(BigInteger)
    order_counter: Mapped[int] = mapped_column(Integer)
    order_node: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    review_status: Mapped[str] = mapped_column(String(16), default="pending")
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    flags: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    # 1 when the visit goes to the front of the review queue (a quality flag, review status
    # `flagged`, or priority subjects in the household), else 0. See store/queue_rank().
    queue_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Revision(Model):
    """One row per version of a record: the fields it changed with their values before it,
    who changed them and the HLC. The base a tablet's base_version names is the record now
    with the later versions undone (domain/push.py changes_since); a creation's row lists the
    fields it set, with no previous values."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("entity", "entity_id", "version", name="uq_revisions_entity_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)  # JSON: the changed fields' previous values
    changed: Mapped[str] = mapped_column(Text)  # JSON list of the fields this version changed
    author_role: Mapped[str] = mapped_column(String(16))
    author: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    hlc: Mapped[str | None] = mapped_column(String(120), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


_OPEN_REJECTION = text("status = 'rejected' AND resolved_at IS NULL")


class DeviceMutation(Model):
    """The per-device ledger: one row per consumed mutation id, with the answer given, so a
    replay is answered from here and never applied twice. Rejected payloads are kept."""

    __tablename__ = "device_mutations"
    # GET /rejections reads the rows still rejected and not re-applied, newest first: an
    # index of those alone, which the ledger's other rows (nearly all) never enter.
    __table_args__ = (
        Index(
            "ix_device_mutations_open_rejections",
            "received_at",
            "device_id",
            "mutation_id",
            sqlite_where=_OPEN_REJECTION,
            postgresql_where=_OPEN_REJECTION,
        ),
    )

    # device_id, user_id and ward_id name a device, a user and a unit without foreign keys:
    # PostgreSQL checks one with a query per row and key, most of the ledger's insert on
    # every push, and they are the batch's device, its owner and a ward read in the push's
    # own transaction, none of which the server ever deletes (migration a1d9e4c7b350).
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mutation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    result: Mapped[str] = mapped_column(Text)  # JSON, as answered
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, when rejected
    user_id: Mapped[int] = mapped_column(Integer)
    ward_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A rejected mutation a supervisor corrected and re-applied (GET /rejections hides it).
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Conflict(Model):
    __tablename__ = "conflicts"
    __table_args__ = (
        Index("ix_conflicts_ward_status", "ward_id", "status"),
        Index("ix_conflicts_entity", "entity", "entity_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(36))
    ward_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    fields: Mapped[str] = mapped_column(Text, default="{}")  # JSON: field -> base/server/client
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    mutation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DayFigureColumns:
    """The dated figures (domain/stats.py DAY_FIGURES), a counter column each: the columns of
    UnitDayFigures and FigureDelta."""

    # state deltas
    households_visited: Mapped[int] = mapped_column(BigInteger, default=0)
    adults_counted: Mapped[int] = mapped_column(BigInteger, default=0)
    smartphones: Mapped[int] = mapped_column(BigInteger, default=0)
    installed: Mapped[int] = mapped_column(BigInteger, default=0)
    installed_during_campaign: Mapped[int] = mapped_column(BigInteger, default=0)
    priority_subjects: Mapped[int] = mapped_column(BigInteger, default=0)
    priority_installed: Mapped[int] = mapped_column(BigInteger, default=0)
    # flow
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    installed_during: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_installed: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_partial: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_already_installed: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_refused: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_not_home: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_come_back: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_no_smartphone: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_vacant: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome_language_barrier: Mapped[int] = mapped_column(BigInteger, default=0)
    review_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    review_approved: Mapped[int] = mapped_column(BigInteger, default=0)
    review_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    review_flagged: Mapped[int] = mapped_column(BigInteger, default=0)


class UnitDayFigures(DayFigureColumns, Model):
    """The figures of docs/figures.md kept as counters: one row per unit and local day, holding what
    that day added. Flow figures (visits, outcomes, review states) are the visits dated that
    day; state figures (households visited, adults, installs...) are the change the day made
    to the households' state, so a state as of day D is the sum of the rows up to D. Every
    write that changes a household or its visits updates the rows of the household's group,
    ward and every ancestor in the same transaction (store/figures.py)."""

    __tablename__ = "unit_day_figures"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local


class FigureDelta(DayFigureColumns, Model):
    """PostgreSQL: what one write adds to the counter rows of a unit above the ward (a
    district or a province), appended instead of added in place, so that writers in
    different wards of one province never wait on a row they share. ``day`` is the dated
    row's day, or None for the undated row (whose ``last_day`` is the last day its dated
    deltas were for). Whoever writes next folds a unit's deltas into its rows when no one
    else is folding them (store/figures.py); reads add the deltas not yet folded. SQLite adds
    in place (its writers are serialised): the table stays empty."""

    __tablename__ = "figure_deltas"
    __table_args__ = (Index("ix_figure_deltas_unit_id", "unit_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    day: Mapped[str | None] = mapped_column(String(10), nullable=True)
    last_day: Mapped[str | None] = mapped_column(String(10), nullable=True)
    households: Mapped[int] = mapped_column(BigInteger, default=0)
    open_conflicts: Mapped[int] = mapped_column(BigInteger, default=0)


def _all_days_total() -> Any:
    # A column added to rows that existed: filled by its migration, 0 until then.
    return mapped_column(BigInteger, default=0, server_default="0")


class UnitFigures(Model):
    """The undated figures of a unit, kept as counters like UnitDayFigures: households not
    merged away, and open conflicts; and every dated figure summed over all days (what the
    unit's UnitDayFigures rows add up to), with the last day any of them is dated, so that
    figures as of a day past it read this one row instead of a row per day."""

    __tablename__ = "unit_figures"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    households: Mapped[int] = mapped_column(BigInteger, default=0)
    open_conflicts: Mapped[int] = mapped_column(BigInteger, default=0)
    # No day of the unit's dated rows is later (the actual last may be earlier: a delta
    # that came to nothing still moves it on).
    last_day: Mapped[str | None] = mapped_column(String(10), nullable=True)
    households_visited: Mapped[int] = _all_days_total()
    adults_counted: Mapped[int] = _all_days_total()
    smartphones: Mapped[int] = _all_days_total()
    installed: Mapped[int] = _all_days_total()
    installed_during_campaign: Mapped[int] = _all_days_total()
    priority_subjects: Mapped[int] = _all_days_total()
    priority_installed: Mapped[int] = _all_days_total()
    visits: Mapped[int] = _all_days_total()
    installed_during: Mapped[int] = _all_days_total()
    outcome_installed: Mapped[int] = _all_days_total()
    outcome_partial: Mapped[int] = _all_days_total()
    outcome_already_installed: Mapped[int] = _all_days_total()
    outcome_refused: Mapped[int] = _all_days_total()
    outcome_not_home: Mapped[int] = _all_days_total()
    outcome_come_back: Mapped[int] = _all_days_total()
    outcome_no_smartphone: Mapped[int] = _all_days_total()
    outcome_vacant: Mapped[int] = _all_days_total()
    outcome_language_barrier: Mapped[int] = _all_days_total()
    review_pending: Mapped[int] = _all_days_total()
    review_approved: Mapped[int] = _all_days_total()
    review_rejected: Mapped[int] = _all_days_total()
    review_flagged: Mapped[int] = _all_days_total()


class CountryDayFigures(Model):
    """The whole country's daily series (a scheme's): per local day, what the visits dated
    that day added to its top units' ``visits``, ``installed_during`` and ``installed``, kept
    by every write with the units' rows (store/figures.py), so that the country's daily
    series reads a row per day instead of one per province and day. ``part`` 0 is the row
    itself; on PostgreSQL a write that finds another folding the scheme's rows appends its
    deltas as a part of its own (its transaction id) for the next writer to fold, so writers
    anywhere in the country never wait on the row of today. Reads sum the parts."""

    __tablename__ = "country_day_figures"

    scheme: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, local
    part: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, default=0)
    visits: Mapped[int] = mapped_column(BigInteger, default=0)
    installed_during: Mapped[int] = mapped_column(BigInteger, default=0)
    installed: Mapped[int] = mapped_column(BigInteger, default=0)
