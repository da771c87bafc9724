"""Who may stop a background job from this tab: the session that started it, or a presenter who entered the server's
admin token (KD_ADMIN_TOKEN). Everyone still sees every job and its progress."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from benchmarks.core import owners
from dashboard import resources

_TOKEN = "_admin_token"  # not a widget key: it survives page changes


def session_id() -> str:
    """This browser tab's session: the owner of the jobs it starts (a reload is a new session)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def may_control(owner: str) -> bool:
    return owners.may_control(owner, session_id(), st.session_state.get(_TOKEN, ""), resources.settings().admin_token)


def not_yours(where: str) -> None:
    """Say why there is no Stop button, and let a presenter enter the token."""
    has_token = bool(resources.settings().admin_token)
    st.caption("Started by another session: only that session" + (" or a presenter" if has_token else "")
               + " can stop it.")
    if has_token:
        st.text_input("Presenter token (KD_ADMIN_TOKEN)", type="password", key=f"admin_token_{where}",
                      on_change=_keep, args=(f"admin_token_{where}",))


def _keep(key: str) -> None:
    st.session_state[_TOKEN] = st.session_state.get(key, "")
