"""`ciam members ...` (and `ciam orgs add-member`): people in organizations, their
business roles and state; `ciam sweep`: record expired memberships."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup, with_appcontext

from ciam.accounts import services as accounts
from ciam.clitools import command_transaction, echo_json
from ciam.delegation import memberships, services
from ciam.delegation.models import AdminRight
from ciam.errors import NotFound
from ciam.roles import assignments, catalogue

members_cli = AppGroup("members", help="People in organizations: add, roles, suspend.")


class Instant(click.ParamType):
    """An ISO 8601 date or time; UTC unless it names its offset."""

    name = "ISO-8601"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time.", param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _member(org_slug: str, email: str):
    org = services.get_org(org_slug)
    user = accounts.find_by_email(email)
    if user is None:
        raise NotFound(f"No account with email {email}.")
    return org, user


def _summary(org, user, membership) -> dict:
    return {
        "org": org.slug,
        "email": user.email,
        "admin_right": membership.admin_right.value,
        "status": membership.status.value,
        "valid_from": membership.valid_from.isoformat() if membership.valid_from else None,
        "valid_until": membership.valid_until.isoformat() if membership.valid_until else None,
        "grants_access": memberships.grants_access(membership),
        "roles": assignments.role_keys_of(membership),
    }


def _echo(summary: dict, as_json: bool, said: str) -> None:
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"{said}: {summary['email']} in {summary['org']} ({summary['status']}; "
            f"roles: {' '.join(summary['roles']) or '-'})"
        )


MEMBER = (
    click.option("--org", "org_slug", required=True),
    click.option("--email", required=True),
    click.option("--json", "as_json", is_flag=True),
)


def member_options(command):
    for option in reversed(MEMBER):
        command = option(command)
    return command


@click.command("add")
@member_options
@click.option("--role", "roles", multiple=True, help="Business role key (repeat).")
@click.option("--admin-right", type=click.Choice([r.value for r in AdminRight]), default="none")
@click.option("--valid-from", type=Instant())
@click.option("--valid-until", type=Instant())
@with_appcontext
def add_member(org_slug, email, as_json, roles, admin_right, valid_from, valid_until):
    """Add an existing account to an organization, with business roles."""
    with command_transaction():
        org, user = _member(org_slug, email)
        membership = services.add_member(
            org, user, AdminRight(admin_right), valid_from=valid_from, valid_until=valid_until
        )
        for key in roles:
            assignments.assign_role(membership, catalogue.find_role(key, org))
        summary = _summary(org, user, membership)
    _echo(summary, as_json, "added")


members_cli.add_command(add_member)


def _state_command(name: str, change, said: str, doc: str):
    @members_cli.command(name)
    @member_options
    def command(org_slug, email, as_json):
        with command_transaction():
            org, user = _member(org_slug, email)
            membership = memberships.find_membership(org, user)
            change(membership)
            summary = _summary(org, user, membership)
        _echo(summary, as_json, said)

    command.help = doc
    return command


suspend_member = _state_command(
    "suspend", memberships.suspend, "suspended", "Suspend a membership: it grants nothing."
)
reactivate_member = _state_command(
    "reactivate", memberships.reactivate, "reactivated", "Reactivate a suspended membership."
)


def _role_command(name: str, change, said: str, doc: str):
    @members_cli.command(name)
    @member_options
    @click.option("--role", "key", required=True)
    def command(org_slug, email, as_json, key):
        with command_transaction():
            org, user = _member(org_slug, email)
            membership = memberships.find_membership(org, user)
            change(membership, catalogue.find_role(key, org))
            summary = _summary(org, user, membership)
        _echo(summary, as_json, said)

    command.help = doc
    return command


assign_member_role = _role_command(
    "assign-role", assignments.assign_role, "role given", "Give a business role (seats allowing)."
)
remove_member_role = _role_command(
    "remove-role", assignments.remove_role, "role taken", "Take a business role (frees its seats)."
)


@members_cli.command("show")
@member_options
def show_member(org_slug, email, as_json):
    with command_transaction():
        org, user = _member(org_slug, email)
        summary = _summary(org, user, memberships.find_membership(org, user))
    _echo(summary, as_json, "member")


@click.command("sweep")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def sweep(as_json):
    """Record memberships whose validity ended (what `ciam worker` does daily)."""
    with command_transaction():
        expired = memberships.sweep_expired()
    echo_json({"expired": expired}) if as_json else click.echo(f"{expired} membership(s) expired")
