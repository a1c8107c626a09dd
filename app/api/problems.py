"""application/problem+json answers (RFC 9457) for every API error."""
from __future__ import annotations

from flask import jsonify
from flask_babel import lazy_gettext as _l

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 410: "Gone", 413: "Content Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
          503: "Service Unavailable"}

# What a person reading the error should know; translated to the token user's language.
DETAILS = {
    400: _l("The request could not be understood."),
    401: _l("Send a valid API token as “Authorization: Bearer <token>”."),
    403: _l("Your role does not allow this. Ask an admin of your company."),
    404: _l("Not found, or it belongs to another company."),
    405: _l("This method is not allowed here."),
    409: _l("The request conflicts with the current state."),
    410: _l("This link has expired or was revoked."),
    413: _l("The request body is too large."),
    415: _l("Send the body as JSON with “Content-Type: application/json”."),
    422: _l("Some values are not valid; see errors."),
    429: _l("Too many requests. Please wait and try again."),
    500: _l("We could not complete this. Nothing was saved; please try again."),
}


def problem(status: int, detail=None, *, headers: dict | None = None, **extra):
    """A problem+json response; `extra` adds members such as errors, duplicates or client."""
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
            "detail": str(detail or DETAILS.get(status) or TITLES.get(status, "Error"))}
    body.update(extra)
    if isinstance(body.get("errors"), dict):  # a nameless form part arrives as None: keys must stay sortable
        body["errors"] = {str(k): v for k, v in body["errors"].items()}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_for_error(error):
    """The problem answer for an HTTPException raised under /api/ (routing, limits, aborts)."""
    ready = getattr(error, "response", None)
    if ready is not None and getattr(ready, "mimetype", None) == "application/problem+json":
        return ready  # the rate limiter's answer, with its Retry-After
    status = getattr(error, "code", None) or 500
    detail = getattr(error, "api_detail", None)  # set by api_abort(); werkzeug's own texts are English only
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return problem(status, detail, headers=headers, **(getattr(error, "api_extra", None) or {}))
