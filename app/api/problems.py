"""application/problem+json answers."""
from flask import jsonify

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 410: "Gone", 413: "Payload Too Large", 415: "Unsupported Media Type",
          422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error"}


def problem(status: int, detail=None, **extra):
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
            "detail": str(detail) if detail else TITLES.get(status, "Error")}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
