"""OAuth/OIDC endpoints under /oauth. Each parses, calls one service, responds."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import Blueprint, Response, request

from ciam.extensions import csrf
from ciam.oidc import authorize as authorize_flow
from ciam.oidc import logout as logout_flow
from ciam.oidc import userinfo as userinfo_flow
from ciam.oidc.http_rules import CORS_HEADERS, repeats_a_parameter
from ciam.oidc.server import get_server
from ciam.ratelimit import enforce_token_limit

bp = Blueprint("oauth", __name__, url_prefix="/oauth")
# Token, introspection and revocation authenticate the calling portal; userinfo takes
# a bearer token; authorize and logout take the browser session (DESIGN §5.8).

CORS_ENDPOINTS = {"oauth.token", "oauth.userinfo", "oauth.revoke"}


@bp.after_request
def _cors(response: Response) -> Response:
    if request.endpoint in CORS_ENDPOINTS:  # why: http_rules.CORS_HEADERS
        for name, value in CORS_HEADERS:
            response.headers[name] = value
    return response


@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1 allows POST from portals; consent checks its token
def authorize():
    # The request is passed on explicitly: the same answer serves a finished sign-in,
    # with the request it rebuilt (authorize.answer_after_sign_in).
    return authorize_flow.answer(request)


def _repeated_parameter() -> Response | None:
    """RFC 6749 §3.2 (http_rules.repeats_a_parameter): Authlib would take the first
    value; refused as invalid_request. The name is not echoed: error_description
    allows only a narrow ASCII set (§5.2)."""
    if repeats_a_parameter(request.form.items(multi=True)):
        error = InvalidRequestError("A parameter was sent more than once.")
        return get_server().handle_error_response(None, error)
    return None


@bp.post("/token")
@csrf.exempt
def token():
    enforce_token_limit()  # per client IP, CIAM_TOKEN_RATE_LIMIT (ASVS 11.1.4)
    return _repeated_parameter() or get_server().create_token_response()


@bp.post("/introspect")
@csrf.exempt
def introspect():
    return _repeated_parameter() or get_server().create_endpoint_response("introspection")


@bp.post("/revoke")
@csrf.exempt
def revoke():
    return _repeated_parameter() or get_server().create_endpoint_response("revocation")


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return userinfo_flow.userinfo()


@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # the confirmation form checks its own token; GET carries none
def logout():
    return logout_flow.logout()
