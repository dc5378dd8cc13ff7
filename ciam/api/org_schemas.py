"""Marshmallow schemas of the organization API: organizations, licences, roles, the
audit trail and a person for support (the OpenAPI document is built from them).

Request bodies refuse unknown fields (a misspelt setting is an error, not ignored);
the domain rules (colours, URLs, seats, keys) are checked again by the services.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ciam.delegation.models import AdminRight, MembershipStatus, OrgStatus
from ciam.delegation.settings import MAX_IDLE_MINUTES

CURSOR = validate.Length(max=400)


class StrictBody(ma.Schema):
    class Meta:
        unknown = ma.RAISE
        ordered = True


class PageQuerySchema(ma.Schema):
    # Unknown query parameters are ignored (webargs' default for the query string).
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=CURSOR)


def next_cursor_field() -> fields.String:
    return fields.String(
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class PolicySchema(ma.Schema):
    class Meta:
        ordered = True

    mfa_required = fields.Boolean()
    session_idle_minutes = fields.Integer(
        allow_none=True, metadata={"description": "null: the server's default."}
    )
    allowed_portals = fields.List(
        fields.String(), metadata={"description": "Empty: every portal it is licensed for."}
    )


class BrandingSchema(ma.Schema):
    class Meta:
        ordered = True

    display_name = fields.String(allow_none=True)
    logo_url = fields.String(allow_none=True)
    primary_colour = fields.String(allow_none=True)
    email_sender_name = fields.String(allow_none=True)


class OrgSchema(ma.Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in OrgStatus]})
    crm_account_id = fields.String(allow_none=True)
    email_domains = fields.List(fields.String())
    policy = fields.Nested(PolicySchema)
    branding = fields.Nested(BrandingSchema)
    created_at = fields.DateTime()

    @ma.pre_dump
    def _grouped(self, org, **kwargs):
        # Policy and branding are columns of the organization, shown grouped.
        return {
            name: getattr(org, name)
            for name in ("id", "slug", "name", "status", "crm_account_id", "email_domains")
        } | {"policy": org, "branding": org, "created_at": org.created_at}


class OrgPageSchema(ma.Schema):
    items = fields.List(fields.Nested(OrgSchema))
    next_cursor = next_cursor_field()


def _nullable_text(max_length: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length))


class OrgSettingsSchema(StrictBody):
    """The settings to change (operator only); "" or null clears a text setting."""

    mfa_required = fields.Boolean(truthy={True}, falsy={False})
    session_idle_minutes = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_IDLE_MINUTES)
    )
    allowed_portals = fields.List(
        fields.String(validate=validate.Length(min=1, max=80)), validate=validate.Length(max=100)
    )
    display_name = _nullable_text(200)
    logo_url = _nullable_text(500)
    primary_colour = _nullable_text(7)
    email_sender_name = _nullable_text(120)

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one setting to change.")


class LicenceSchema(ma.Schema):
    class Meta:
        ordered = True

    client_id = fields.String(attribute="portal")
    seats = fields.Integer(allow_none=True, metadata={"description": "null: unlimited."})
    in_use = fields.Integer(metadata={"description": "Members holding a seat."})
    over_allocated = fields.Integer(
        metadata={"description": "Members needing a seat beyond `seats` (they lose it)."}
    )

    @ma.pre_dump
    def _unlimited_is_null(self, summary, **kwargs):
        # ciam.roles.licences.licence_summary says "unlimited" (for people); JSON: null.
        return summary | {"seats": None if summary["seats"] == "unlimited" else summary["seats"]}


class LicenceListSchema(ma.Schema):
    items = fields.List(fields.Nested(LicenceSchema))


class LicenceSetSchema(StrictBody):
    seats = fields.Integer(
        required=True,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "null: unlimited."},
    )


class RoleSchema(ma.Schema):
    class Meta:
        ordered = True

    key = fields.String()
    name = fields.String()
    org = fields.String(allow_none=True, metadata={"description": "null: a global role."})
    mappings = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "{client_id: [app roles]} the role maps to."},
    )
    gives = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "What it gives here: mappings on the licensed portals."},
    )


class RoleListSchema(ma.Schema):
    items = fields.List(fields.Nested(RoleSchema))


class RoleCreateSchema(StrictBody):
    key = fields.String(required=True, validate=validate.Length(min=1, max=80))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mappings = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=80)),
        values=fields.List(
            fields.String(validate=validate.Length(min=1, max=80)),
            validate=validate.Length(max=50),
        ),
        load_default=dict,
        validate=validate.Length(max=50),
        metadata={"description": "{client_id: [app roles]}, on portals the org holds."},
    )


class AuditQuerySchema(PageQuerySchema):
    actor_id = fields.UUID()
    target = fields.String(validate=validate.Length(max=200))
    action = fields.String(
        validate=validate.Length(max=80), metadata={"description": "A tag or its prefix."}
    )
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class AuditEventSchema(ma.Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    tag = fields.String()
    created_at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True)
    client_id = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    data = fields.Dict()


class AuditPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditEventSchema))
    next_cursor = next_cursor_field()


class FactorSchema(ma.Schema):
    kind = fields.String()
    confirmed_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)


class MfaStateSchema(ma.Schema):
    enrolled = fields.Boolean()
    factors = fields.List(fields.Nested(FactorSchema))
    recovery_codes_left = fields.Integer()


class PersonMembershipSchema(ma.Schema):
    class Meta:
        ordered = True

    org = fields.String()
    org_name = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in MembershipStatus]})
    admin_right = fields.String(metadata={"enum": [r.value for r in AdminRight]})
    roles = fields.List(fields.String())
    valid_from = fields.DateTime(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)
    grants_access = fields.Boolean()


class PersonSchema(ma.Schema):
    """A person for support: memberships, lock, second factors (no secrets)."""

    class Meta:
        ordered = True

    id = fields.UUID()
    email = fields.String()
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    status = fields.String()
    locked = fields.Boolean()
    locked_until = fields.DateTime(allow_none=True)
    failed_login_count = fields.Integer()
    last_login_at = fields.DateTime(allow_none=True)
    mfa = fields.Nested(MfaStateSchema)
    memberships = fields.List(fields.Nested(PersonMembershipSchema))
