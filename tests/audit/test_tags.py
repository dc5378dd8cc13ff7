"""Audit tags are one closed vocabulary (ciam.audit.tags.AuditTag)."""

from __future__ import annotations

import re

import pytest

from ciam.audit.services import event_values, record
from ciam.audit.tags import AuditTag

TAG_SHAPE = re.compile(r"[a-z]+(:[a-z_]+)+")


def test_every_tag_reads_domain_subject_outcome():
    assert all(TAG_SHAPE.fullmatch(tag.value) for tag in AuditTag)
    domains = {tag.value.split(":")[0] for tag in AuditTag}
    # One word per domain: no "user:" beside "account:".
    assert "user" not in domains and "account" in domains


def test_a_tag_outside_the_vocabulary_is_refused(ctx):
    with pytest.raises(ValueError):
        record("user:created")
    with pytest.raises(ValueError):
        event_values("account:recovery_code:used")


def test_a_tag_is_stored_as_its_plain_value(ctx):
    values = event_values(AuditTag.ACCOUNT_LOGIN_SUCCESS)
    assert values["tag"] == "account:login:success"
    assert type(values["tag"]) is str
