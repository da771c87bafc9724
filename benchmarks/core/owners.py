"""Who may stop or cancel a background job: the session that started it, or a presenter holding the server's admin
token (KD_ADMIN_TOKEN) when one is set. A job started from the command line has no owner: only the token stops it
from the dashboard."""

from __future__ import annotations

import hmac


def may_control(owner: str, requester: str, token: str = "", admin_token: str = "") -> bool:
    """Whether `requester` (a session id) may stop a job started by `owner`; `token` is what the requester entered."""
    if admin_token and token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return True
    return bool(owner) and hmac.compare_digest(owner.encode(), requester.encode())
