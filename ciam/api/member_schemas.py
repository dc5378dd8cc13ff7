"""Marshmallow schemas of an organization's members in the API: the directory's
rows (ciam.delegation.directory.MemberRow), one member (member_detail.MemberDetail)
and the bodies of the member actions."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ciam.api.org_schemas import PageQuerySchema, StrictBody, next_cursor_field
from ciam.delegation.models import AdminRight, MembershipStatus

RIGHTS = [right.value for right in AdminRight]
STATUSES = [status.value for status in MembershipStatus]


def _reason() -> fields.String:
    return fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "Why (kept in the audit trail; support staff give one)."},
    )


class MemberQuerySchema(PageQuerySchema):
    q = fields.String(
        validate=validate.Length(max=200), metadata={"description": "Part of email or name."}
    )
    status = fields.String(validate=validate.OneOf([*STATUSES, "locked"]))
    role = fields.String(
        validate=validate.Length(max=80), metadata={"description": "A business role key."}
    )


class MemberSchema(ma.Schema):
    class Meta:
        ordered = True

    user_id = fields.UUID(attribute="membership.user_id")
    email = fields.String(attribute="user.email")
    given_name = fields.String(attribute="user.given_name", allow_none=True)
    family_name = fields.String(attribute="user.family_name", allow_none=True)
    status = fields.String(attribute="membership.status", metadata={"enum": STATUSES})
    admin_right = fields.String(attribute="membership.admin_right", metadata={"enum": RIGHTS})
    roles = fields.List(fields.String(), metadata={"description": "Business role keys."})
    mfa_enrolled = fields.Boolean()
    locked = fields.Boolean()
    valid_from = fields.DateTime(attribute="membership.valid_from", allow_none=True)
    valid_until = fields.DateTime(attribute="membership.valid_until", allow_none=True)
    joined_at = fields.DateTime(attribute="membership.created_at")


class MemberDetailSchema(MemberSchema):
    preview = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "{client_id: [app roles]} the membership gives now."},
    )


class MemberPageSchema(ma.Schema):
    items = fields.List(fields.Nested(MemberSchema))
    next_cursor = next_cursor_field()


class MemberCreateSchema(StrictBody):
    """An existing account to add (people without one are invited instead)."""

    email = fields.Email(required=True, validate=validate.Length(max=320))
    roles = fields.List(
        fields.String(validate=validate.Length(min=1, max=80)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Business role keys to give (seats allowing)."},
    )
    admin_right = fields.String(load_default=AdminRight.none.value, validate=validate.OneOf(RIGHTS))


class MemberUpdateSchema(StrictBody):
    status = fields.String(validate=validate.OneOf(STATUSES))
    admin_right = fields.String(validate=validate.OneOf(RIGHTS))
    reason = _reason()

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if "status" not in data and "admin_right" not in data:
            raise ma.ValidationError("Give status or admin_right.")


class RoleAssignSchema(StrictBody):
    key = fields.String(required=True, validate=validate.Length(min=1, max=80))


class ReasonSchema(StrictBody):
    reason = _reason()


class ActionResultSchema(ma.Schema):
    class Meta:
        ordered = True

    action = fields.String()
    changed = fields.Boolean(metadata={"description": "False: there was nothing to do."})
    factors_removed = fields.Integer(metadata={"description": "reset-mfa only."})
