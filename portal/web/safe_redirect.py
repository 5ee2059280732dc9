"""Only same-site relative paths are followed after login (no open redirects)."""
from urllib.parse import urlsplit


def safe_next_url(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
