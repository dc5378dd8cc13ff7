"""Marshmallow schemas of the invitations API (the OpenAPI document is built from them).

Request bodies refuse unknown fields, so a typo in the CRM's payload is an error the
integrator sees at once instead of a silently ignored setting.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ciam.delegation.services import SLUG
from ciam.invitations.batch import check_size
from ciam.invitations.lookup import org_of
from ciam.invitations.models import BatchStatus, InvitationStatus

LOCALE = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class _ItemFields(ma.Schema):
    class Meta:
        unknown = ma.RAISE
        ordered = True

    email = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        metadata={"description": "Address to invite (compared case-insensitively)."},
    )
    org = fields.String(
        validate=validate.Regexp(SLUG, error="Not an organization slug."),
        metadata={"description": "Slug of the organization to join."},
    )
    crm_account_id = _text(
        64, metadata={"description": "The organization, by its CRM account id (instead of org)."}
    )
    business_roles = fields.List(
        _text(100),
        validate=validate.Length(max=50),
        load_default=list,
        metadata={"description": "Business roles the person gets in the organization."},
    )
    crm_contact_id = _text(64, metadata={"description": "CRM contact this person is."})
    crm_lead_id = _text(64, metadata={"description": "CRM lead this person is."})
    given_name = _text(120)
    family_name = _text(120)
    locale = fields.String(validate=[validate.Length(max=16), validate.Regexp(LOCALE)])

    @ma.validates_schema
    def _one_crm_record(self, data, **kwargs):
        if data.get("crm_contact_id") and data.get("crm_lead_id"):
            raise ma.ValidationError("Give crm_contact_id or crm_lead_id, not both.", "crm_lead_id")


def _check_org_choice(data: dict, required: bool) -> None:
    if data.get("org") and data.get("crm_account_id"):
        raise ma.ValidationError("Give org or crm_account_id, not both.", "org")
    if required and not (data.get("org") or data.get("crm_account_id")):
        raise ma.ValidationError("Give org (a slug) or crm_account_id.", "org")


class InvitationCreateSchema(_ItemFields):
    """One invitation."""

    @ma.validates_schema
    def _org_given(self, data, **kwargs):
        _check_org_choice(data, required=True)


class BatchItemSchema(_ItemFields):
    """One invitation of a batch: org may come from the batch."""

    @ma.validates_schema
    def _org_choice(self, data, **kwargs):
        _check_org_choice(data, required=False)


class BatchCreateSchema(ma.Schema):
    """Up to CIAM_INVITATION_BATCH_MAX invitations (10,000 by default)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    org = fields.String(
        validate=validate.Regexp(SLUG, error="Not an organization slug."),
        metadata={"description": "Default organization of items that name none."},
    )
    crm_account_id = _text(64, metadata={"description": "Default organization, by CRM id."})
    invitations = fields.List(
        fields.Nested(BatchItemSchema), required=True, validate=validate.Length(min=1)
    )

    @ma.pre_load
    def _size_first(self, data, **kwargs):
        # Before validating 10,000 items, refuse a batch that is too long anyway (413).
        if isinstance(data, dict) and isinstance(data.get("invitations"), list):
            check_size(len(data["invitations"]))
        return data

    @ma.validates_schema
    def _every_item_has_org(self, data, **kwargs):
        _check_org_choice(data, required=False)
        if data.get("org") or data.get("crm_account_id"):
            return
        missing = {
            index: {"org": ["Give org (a slug) or crm_account_id, here or on the batch."]}
            for index, item in enumerate(data.get("invitations") or [])
            if not (item.get("org") or item.get("crm_account_id"))
        }
        if missing:
            raise ma.ValidationError({"invitations": missing})

    @ma.post_load
    def _apply_defaults(self, data, **kwargs):
        default = {k: data[k] for k in ("org", "crm_account_id") if data.get(k)}
        for item in data["invitations"]:
            if default and not (item.get("org") or item.get("crm_account_id")):
                item.update(default)
        return data


class InvitationSchema(ma.Schema):
    """An invitation as the API shows it. The link's token is never shown."""

    class Meta:
        ordered = True

    id = fields.UUID()
    email = fields.String()
    org = fields.Method("_org_slug", metadata={"description": "Organization slug."})
    org_id = fields.UUID()
    status = fields.Function(
        lambda inv: inv.effective_status.value,
        metadata={"enum": [s.value for s in InvitationStatus]},
    )
    business_roles = fields.List(fields.String())
    crm_contact_id = fields.String(allow_none=True)
    crm_lead_id = fields.String(allow_none=True)
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    inviter_client_id = fields.String(allow_none=True)
    inviter_user_id = fields.UUID(allow_none=True)
    batch_id = fields.UUID(allow_none=True)
    public_email_domain = fields.Boolean(
        metadata={"description": "A lead invited at a public webmail address (DESIGN §3)."}
    )
    sends = fields.Integer(metadata={"description": "Emails sent for this invitation."})
    expires_at = fields.DateTime()
    last_sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)

    def _org_slug(self, invitation) -> str | None:
        org = org_of(invitation)
        return org.slug if org else None


class InvitationPageSchema(ma.Schema):
    items = fields.List(fields.Nested(InvitationSchema))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class InvitationQuerySchema(ma.Schema):
    # Unknown query parameters are ignored (webargs' default for the query string).
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(validate=validate.Length(max=400))
    org = fields.String(validate=validate.Regexp(SLUG, error="Not an organization slug."))
    status = fields.String(validate=validate.OneOf([s.value for s in InvitationStatus]))
    email = fields.String(validate=validate.Length(max=320))
    batch_id = fields.UUID()


class BatchErrorSchema(ma.Schema):
    index = fields.Integer(metadata={"description": "Position of the item in the request."})
    error = fields.String()
    message = fields.String()


class BatchSchema(ma.Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    status = fields.Function(
        lambda b: b.status.value, metadata={"enum": [s.value for s in BatchStatus]}
    )
    total = fields.Integer()
    processed = fields.Integer()
    created = fields.Integer(metadata={"description": "Invitations created (and emailed)."})
    existing = fields.Integer(
        metadata={"description": "Items answered by a pending invitation (nothing sent)."}
    )
    failed = fields.Integer()
    errors = fields.List(
        fields.Nested(BatchErrorSchema),
        metadata={"description": "Per-item errors, the first 1000."},
    )
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
