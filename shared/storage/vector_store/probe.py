"""Is a Qdrant server answering? A plain HTTP probe, so `open_store("auto")` needs no qdrant-client import."""

from __future__ import annotations

import urllib.error
import urllib.request


def unreachable_message(url: str, cause: object) -> str:
    return (
        f"Qdrant server at {url} is unreachable ({cause}); start it with `docker compose up qdrant`, "
        "or leave --qdrant/QDRANT_URL unset to use the embedded store"
    )


def probe_server(url: str, api_key: str | None = None, timeout: float = 0.5) -> str | None:
    """None if an HTTP server answers at url within timeout (any status counts), else why not."""
    headers = {"api-key": api_key} if api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url.rstrip("/") + "/", headers=headers), timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered, e.g. 401 without the right API key
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
