"""Log in and log out. Failures say the same thing whether or not the username exists."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from tokenbot.admin.panel import panel
from tokenbot.admin.principal import current_admin
from tokenbot.admin.principal import log_in
from tokenbot.admin.principal import log_out
from tokenbot.admin.security import safe_next

__all__ = ["LoginForm", "bp"]

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "Wrong username or password."


class LoginForm(FlaskForm):
    """Username and password, plus where to go afterwards (a local path only)."""

    username = StringField("Username", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form, or check it and start a new session."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
        if current_admin() is not None:
            return redirect(form.next.data)
        return render_template("login.html", form=form, error=None)
    if not form.validate_on_submit():
        return render_template("login.html", form=form, error=GENERIC_FAILURE), 400
    result = panel().admins.authenticate(
        form.username.data or "", form.password.data or "", client_ip=request.remote_addr or ""
    )
    if result.throttled:
        minutes = max(1, (result.retry_after_seconds + 59) // 60)
        unit = "minute" if minutes == 1 else "minutes"
        error = f"Too many failed logins. Try again in {minutes} {unit}."
        page = render_template("login.html", form=form, error=error)
        return page, 429, {"Retry-After": str(result.retry_after_seconds)}
    if result.admin is None:
        return render_template("login.html", form=form, error=GENERIC_FAILURE), 401
    log_in(result.admin)
    return redirect(safe_next(form.next.data), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session on the server; the old cookie is worthless afterwards."""
    log_out()
    log.info("admin logged out")
    return redirect(url_for("auth.login"), code=303)
