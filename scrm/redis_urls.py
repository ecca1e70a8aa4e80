"""Redis URL helpers, free of settings so anything may import them before Django is set up."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def redis_url_with_db(url: str, db: int) -> str:
    """The same server, another logical database (tests isolate workers this way)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        # urlunsplit would drop the empty authority ("unix:/path"), which redis-py refuses.
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def celery_broker_url(url: str) -> str:
    """Celery spells a Unix-socket Redis ``redis+socket://`` with ``virtual_host``."""
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return url
    query = dict(parse_qsl(parts.query))
    db = query.pop("db", "0")
    return f"redis+socket://{parts.path}?virtual_host={db}"
