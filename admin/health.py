"""Probes and metrics: /healthz (process up), /readyz (database and scheduler), /metrics."""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask.typing import ResponseReturnValue

from tokenbot.admin.metrics import CONTENT_TYPE
from tokenbot.admin.panel import panel

__all__ = ["bp"]

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Answer 200 while the process serves requests; checks nothing else on purpose."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Answer 200 when the database answers and the scheduler (if this process has one) runs."""
    checks: dict[str, str] = {}
    try:
        panel().runtime.database.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the log says why
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = "unreachable"
    running = panel().scheduler_running()
    if running is None:
        checks["scheduler"] = "not_in_this_process"
    else:
        checks["scheduler"] = "ok" if running else "stopped"
    ready = checks["database"] == "ok" and checks["scheduler"] in {"ok", "not_in_this_process"}
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), (
        200 if ready else 503
    )


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    """Serve the Prometheus text exposition."""
    return Response(panel().metrics.render(), mimetype=None, content_type=CONTENT_TYPE)
