"""Small helpers for answering htmx and plain requests from the same view."""
from flask import Response, redirect

from portal.web.template_helpers import is_htmx


def redirect_or_refresh(location: str) -> Response:
    """Post/redirect/get for plain forms; for htmx, ask the browser to load `location`."""
    if is_htmx():
        response = Response(status=204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location)
