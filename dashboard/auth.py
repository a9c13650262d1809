"""Who may see the dashboard: safe by default.

On a loopback address (127.0.0.1, ::1, localhost) nothing is asked unless a password is
set. Bound anywhere else, the server needs either a password (``dashboard_password``,
compared with :func:`hmac.compare_digest`) or an OpenID Connect login (``st.login``,
configured by the ``dashboard_oidc_*`` settings); with neither it refuses to start, and the
app refuses to render.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from typing import Any

AUTH_ENV = "HYPEWATCH_DASHBOARD_AUTH"
OIDC_FIELDS = (
    "dashboard_oidc_server_metadata_url",
    "dashboard_oidc_client_id",
    "dashboard_oidc_client_secret",
    "dashboard_oidc_redirect_uri",
    "dashboard_oidc_cookie_secret",
)
"""Settings (``HYPEWATCH_DASHBOARD_OIDC_*``) that together enable the OIDC login."""


class UnsafeBinding(ValueError):
    """Serving on a non-loopback address without a password or login."""


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 (also as ``[::1]``) and ``localhost``; an empty host means
    all interfaces. Unbalanced brackets (``[::1``) are not an address."""
    if not host:
        return False
    text = host.strip()
    if text.lower() == "localhost":
        return True
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def oidc_config(settings: Any) -> dict[str, str] | None:
    """The ``[auth]`` section for Streamlit's secrets, or None unless every field is set."""
    values = {name: _secret(getattr(settings, name, None)) for name in OIDC_FIELDS}
    if not all(values.values()):
        return None
    return {
        "redirect_uri": values["dashboard_oidc_redirect_uri"],
        "cookie_secret": values["dashboard_oidc_cookie_secret"],
        "client_id": values["dashboard_oidc_client_id"],
        "client_secret": values["dashboard_oidc_client_secret"],
        "server_metadata_url": values["dashboard_oidc_server_metadata_url"],
    }


def auth_mode(host: str | None, settings: Any) -> str:
    """``password``, ``oidc`` or ``none`` for serving on ``host``; refuses an unsafe setup."""
    if _secret(getattr(settings, "dashboard_password", None)):
        return "password"
    if oidc_config(settings):
        return "oidc"
    if is_loopback(host):
        return "none"
    raise UnsafeBinding(
        f"refusing to serve the dashboard on {host or 'all interfaces'} without a password "
        "or login: set HYPEWATCH_DASHBOARD_PASSWORD (or the HYPEWATCH_DASHBOARD_OIDC_* "
        "settings), or bind to 127.0.0.1"
    )


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of the typed password with the configured one."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def gate() -> None:
    """Stop the run unless the visitor may see the dashboard (call first on every run)."""
    import streamlit as st

    from hypewatch.settings import get_settings

    settings = get_settings()
    try:
        mode = os.environ.get(AUTH_ENV) or auth_mode(st.get_option("server.address"), settings)
    except UnsafeBinding as exc:
        st.error(str(exc))
        st.stop()
    if mode == "password":
        _password_gate(_secret(settings.dashboard_password) or "")
    elif mode == "oidc":
        _oidc_gate()


def _password_gate(expected: str) -> None:
    import streamlit as st

    if not expected:  # the server said "password" but this process has none: fail closed
        st.error("The dashboard password is not configured in this process.")
        st.stop()
    if st.session_state.get("hw_authenticated"):
        return
    st.title("hypewatch")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if password_matches(given, expected):
            st.session_state["hw_authenticated"] = True
            st.rerun()
        time.sleep(1.0)  # slow down guessing
        st.error("Wrong password.")
    st.stop()


def _oidc_gate() -> None:
    import streamlit as st

    if st.user.is_logged_in:
        with st.sidebar:
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'user'}")
            st.button("Sign out", on_click=st.logout)
        return
    st.title("hypewatch")
    st.button("Sign in", on_click=st.login, type="primary")
    st.stop()
