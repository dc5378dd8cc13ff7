"""Who acts in the organization API (delegated administration, DESIGN §4 tiers),
decided before the request body is read.

Two kinds of caller, told apart by whether a person is behind the token:

- a machine client (client_credentials, no person): the operator tier, every
  organization, with `orgs:read` to read and `orgs:write` to change; it acts as
  `permissions.operator_actor(org)`.
- a person: an access token from the authorization code flow at a first-party
  portal, with the scope `ciam:admin`. The person acts with their own rights,
  `permissions.org_actor(sub, slug)`: an organization they do not administer
  answers 404 with the body of one that does not exist; support staff act on all.

The scopes of the other kind never count: a person's token that happens to carry
`orgs:write` is still the person, and a machine token with `ciam:admin` is no
operator.

    @bp.route("/orgs/<org>/things", methods=["POST"])
    @require_org(WRITE)
    @bp.arguments(ThingSchema)
    def create(data, org): actor = current_actor() ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g

from ciam.api.auth import (
    PERSON_SCOPE,
    ApiAuthError,
    ApiCaller,
    documented_auth,
    insufficient_scope,
    token_caller,
)
from ciam.delegation import permissions
from ciam.delegation.models import Organization
from ciam.delegation.permissions import NotAllowed, OrgActor, OrgNotFound
from ciam.extensions import db
from ciam.oidc.models import Portal

READ = "orgs:read"
WRITE = "orgs:write"


def _first_party(client_id: str) -> bool:
    query = db.select(Portal.first_party).where(Portal.client_id == client_id)
    return bool(db.session.scalar(query))


def authenticate_admin(machine_scope: str) -> ApiCaller:
    """The caller if it is a machine client holding `machine_scope`, or a person
    whose token carries `ciam:admin` from a first-party portal."""
    caller = token_caller()
    if caller.user_id is None:
        if machine_scope not in caller.scopes:
            raise insufficient_scope(machine_scope)
        return caller
    if PERSON_SCOPE not in caller.scopes:
        raise insufficient_scope(PERSON_SCOPE)
    if not _first_party(caller.client_id):
        # A third-party portal must never hold an administrator's powers, even if
        # the operator listed the scope for it by mistake.
        raise ApiAuthError(
            403,
            "insufficient_scope",
            f"{PERSON_SCOPE} is honoured only in tokens of a first-party portal.",
            PERSON_SCOPE,
        )
    return caller


def is_operator(caller: ApiCaller) -> bool:
    return caller.user_id is None


def resolve_actor(caller: ApiCaller, slug: str) -> OrgActor:
    """The caller acting on the organization `slug`; OrgNotFound when it does not
    exist or the person may not administer it (the same answer for both)."""
    if caller.user_id is not None:
        return permissions.org_actor(caller.user_id, slug)
    org = db.session.scalar(db.select(Organization).where(Organization.slug == slug))
    if org is None:
        raise OrgNotFound("No such organization.")
    return permissions.operator_actor(org)


def _guarded(view, machine_scope: str, resolve):
    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            g.api_caller = authenticate_admin(machine_scope)
        except ApiAuthError as error:
            return error.response()
        resolve(g.api_caller, kwargs)
        return view(*args, **kwargs)

    return wrapper


def require_admin(machine_scope: str, check: Callable[[ApiCaller], None]):
    """A machine client with `machine_scope`, or a person with `ciam:admin` whom
    `check` lets in (routes outside one organization: /orgs, /roles, /users)."""

    def decorator(view):
        wrapper = _guarded(view, machine_scope, lambda caller, kwargs: check(caller))
        return documented_auth(wrapper, [machine_scope, PERSON_SCOPE])

    return decorator


def require_org(machine_scope: str, *, operator_only: bool = False):
    """As require_admin, and resolve the actor on the route's `<org>` (404 for an
    organization the caller may not administer). `operator_only`: a person who
    administers the organization is refused with 403 (settings, licences)."""

    def resolve(caller: ApiCaller, kwargs: dict) -> None:
        g.org_actor = resolve_actor(caller, kwargs["org"])
        if operator_only and not is_operator(caller):
            raise NotAllowed("Only the operator may change this.")

    def decorator(view):
        wrapper = _guarded(view, machine_scope, resolve)
        accepted = [machine_scope] if operator_only else [machine_scope, PERSON_SCOPE]
        return documented_auth(wrapper, accepted)

    return decorator


def current_actor() -> OrgActor:
    return g.org_actor


def check_support_or_operator(caller: ApiCaller) -> None:
    """Routes about a person across organizations (/users/<user>)."""
    if caller.user_id is not None and not permissions.is_support(caller.user_id):
        raise NotAllowed("Only support staff and the operator may look up a person.")


def check_some_admin_right(caller: ApiCaller) -> None:
    """Routes outside one organization (/roles): an administrator of at least one."""
    if caller.user_id is None or permissions.is_support(caller.user_id):
        return
    if not permissions.administered_orgs(caller.user_id):
        raise NotAllowed("You administer no organization.")


def anyone_with_the_scope(caller: ApiCaller) -> None:
    """/orgs lists only what the caller administers: nothing to refuse."""
