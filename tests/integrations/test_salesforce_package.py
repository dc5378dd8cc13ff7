"""The Salesforce package (integrations/salesforce, an SFDX source project), checked
without a Salesforce org: every metadata file is well-formed and what one names
the others provide; the request bodies the Apex builds (the fixtures its own test
class asserts) validate against our OpenAPI document and are accepted by the live
API, with the Idempotency-Key the Apex sends."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tests.api.support import crm_headers

ROOT = Path(__file__).resolve().parents[2] / "integrations" / "salesforce"
SOURCE = ROOT / "force-app" / "main" / "default"
NS = "{http://soap.sforce.com/2006/04/metadata}"
FIXTURES = SOURCE / "staticresources" / "CiamInvitationFixtures.json"


def _meta(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()  # noqa: S314 - our own files, not input
    assert root.tag.startswith(NS), f"{path.name}: not in the Metadata API namespace"
    return root


def _texts(root: ET.Element, tag: str) -> list[str]:
    return [element.text or "" for element in root.iter(NS + tag)]


def _names(folder: str, suffix: str) -> set[str]:
    return {p.name.removesuffix(suffix) for p in (SOURCE / folder).glob("*" + suffix)}


def test_the_project_and_every_metadata_file_are_well_formed():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    version = project["sourceApiVersion"]
    for directory in project["packageDirectories"]:
        assert (ROOT / directory["path"]).is_dir()
    metas = list(SOURCE.rglob("*-meta.xml"))
    assert len(metas) >= 20
    for path in metas:
        root = _meta(path)
        for api_version in _texts(root, "apiVersion"):
            assert api_version == version, f"{path.name}: apiVersion {api_version}"
    for page in (SOURCE / "pages").glob("*.page"):
        # Visualforce markup is XML with the apex: prefix left undeclared.
        text = page.read_text().replace("<apex:page ", '<apex:page xmlns:apex="urn:apex" ', 1)
        ET.fromstring(text)  # noqa: S314 - our own files, not input


def test_every_apex_class_has_its_meta_file_and_a_test():
    classes = _names("classes", ".cls")
    assert classes == _names("classes", ".cls-meta.xml")
    tests = [c for c in classes if "@IsTest" in (SOURCE / "classes" / f"{c}.cls").read_text()]
    assert tests == ["CiamInvitationCalloutTest"]


def test_what_each_file_names_exists():
    classes = _names("classes", ".cls")
    pages = _names("pages", ".page")
    components = {p.name for p in (SOURCE / "lwc").iterdir()}
    for page in pages:
        markup = (SOURCE / "pages" / f"{page}.page").read_text()
        for named in re.findall(r'extensions="([^"]+)"', markup):
            assert named in classes
    for link in SOURCE.glob("objects/*/webLinks/*.webLink-meta.xml"):
        assert set(_texts(_meta(link), "page")) <= pages
    for action in (SOURCE / "quickActions").glob("*.quickAction-meta.xml"):
        assert set(_texts(_meta(action), "lightningWebComponent")) <= components
        assert (SOURCE / "objects" / action.name.split(".")[0]).is_dir()
    for script in (SOURCE / "lwc").glob("*/*.js"):
        for cls, method in re.findall(r"@salesforce/apex/(\w+)\.(\w+)", script.read_text()):
            source = (SOURCE / "classes" / f"{cls}.cls").read_text()
            assert re.search(rf"@AuraEnabled\s+public static \w+ {method}\(", source)


def test_the_permission_set_grants_only_what_exists():
    grants = _meta(SOURCE / "permissionsets" / "Ciam_Invite.permissionset-meta.xml")
    classes = _names("classes", ".cls") - {"CiamInvitationCalloutTest"}
    assert set(_texts(grants, "apexClass")) == classes
    assert set(_texts(grants, "apexPage")) == _names("pages", ".page")
    for field in _texts(grants, "field"):
        obj, name = field.split(".")
        assert (SOURCE / "objects" / obj / "fields" / f"{name}.field-meta.xml").is_file()
    credential, principal = _texts(grants, "externalCredentialPrincipal")[0].split("-")
    external = _meta(SOURCE / "externalCredentials" / f"{credential}.externalCredential-meta.xml")
    assert principal in _texts(external, "parameterName")


def test_the_callout_goes_through_the_named_credential_with_client_credentials():
    named = _names("namedCredentials", ".namedCredential-meta.xml")
    callout = (SOURCE / "classes" / "CiamInvitationCallout.cls").read_text()
    assert set(re.findall(r"callout:(\w+)/api/v1/invitations", callout)) <= named
    credential = _meta(SOURCE / "namedCredentials" / "Ciam_API.namedCredential-meta.xml")
    (external_name,) = _texts(credential, "externalCredential")
    external = _meta(
        SOURCE / "externalCredentials" / f"{external_name}.externalCredential-meta.xml"
    )
    values = _texts(external, "parameterValue")
    assert "ClientCredentialsClientSecret" in values and "invitations:write" in values
    assert any(value.endswith("/oauth/token") for value in values)
    assert "Idempotency-Key" in callout


def test_labels_and_static_resources_the_apex_reads_exist():
    apex = "\n".join(p.read_text() for p in (SOURCE / "classes").glob("*.cls"))
    labels = _meta(SOURCE / "labels" / "CustomLabels.labels-meta.xml")
    assert set(re.findall(r"System\.Label\.(\w+)", apex)) <= set(_texts(labels, "fullName"))
    resources = _names("staticresources", ".resource-meta.xml")
    read = set(re.findall(r"FROM StaticResource WHERE Name = '(\w+)'", apex))
    assert read and read <= resources


def _request_schema(document: dict, path: str) -> dict:
    ref = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {**ref, "components": document["components"]}


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("contact", "/api/v1/invitations"),
        ("lead", "/api/v1/invitations"),
        ("batch", "/api/v1/invitations/batch"),
    ],
)
def test_the_apex_bodies_follow_the_openapi_document(client, fixture, path):
    document = client.get("/api/v1/openapi.json").json
    body = json.loads(FIXTURES.read_text())[fixture]
    # OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect.
    jsonschema.Draft4Validator(_request_schema(document, path)).validate(body)


def test_the_live_api_accepts_the_apex_bodies_once_per_click(client, make):
    make.org(slug="acme", crm_account_id="001DEMOACME")
    make.org(slug="prospects")
    headers = crm_headers(client, make)
    bodies = json.loads(FIXTURES.read_text())
    for name, path, status in (
        ("contact", "/api/v1/invitations", 201),
        ("lead", "/api/v1/invitations", 201),
        ("batch", "/api/v1/invitations/batch", 202),
    ):
        key = {"Idempotency-Key": f"sf:003DEMO{name}:1733216400000-a1b2c3d4"}
        first = client.post(path, json=bodies[name], headers={**headers, **key})
        assert first.status_code == status, (name, first.json)
        again = client.post(path, json=bodies[name], headers={**headers, **key})
        assert (again.status_code, again.json) == (first.status_code, first.json)
