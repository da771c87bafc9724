"""Is the Hugging Face Hub reachable? Decided in well under 2 s so no page ever freezes on it."""

from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 1.5
_TTL_S = 60.0
_cache: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()


def hub_offline_forced() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme != "http" else 80)


def _probe(host: str, port: int, timeout: float) -> bool:
    result = [False]

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    # getaddrinfo ignores socket timeouts, so the whole probe runs in a thread we stop waiting for.
    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return result[0]


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """A TCP probe of the Hub endpoint, cached for a minute; False at once when offline is forced."""
    if hub_offline_forced():
        return False
    host, port = _endpoint()
    key = f"{host}:{port}"
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < _TTL_S:
            return hit[1]
    ok = _probe(host, port, timeout)
    with _lock:
        _cache[key] = (time.monotonic(), ok)
    return ok
