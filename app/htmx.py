"""What htmx-flask lacks: the partial predicate and the Vary hook."""
from flask import request


def is_partial() -> bool:
    """Render only the fragment: an htmx request that is not a boosted page navigation."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def add_vary(response):
    response.vary.add("HX-Request")
    return response
