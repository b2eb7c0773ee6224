"""What a supervisor, a load balancer and Prometheus ask: ``/healthz``
(liveness: this process answers; it does not touch the database, so a
database outage never gets a healthy web process restarted), ``/readyz``
(ready to do its job: the database answers, the worker passed within
``worker_down_after`` and at least one SIM is healthy; else 503 and what is
wrong) and ``/metrics`` (Prometheus text, read from the database at scrape
time; loopback only unless ``metrics_token`` is set, then a Bearer token)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from .. import heartbeat
from ..db import UNAVAILABLE
from ..models import Sim
from ..sims import sim_state

monitoring = Blueprint("monitoring", __name__)
RETRY_AFTER_SECONDS = 5


@monitoring.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@monitoring.get("/readyz")
def readyz():
    settings = current_app.config["SMSBRIDGE_SETTINGS"]
    answer: dict = {
        "status": "ready",
        "problems": [],
        "database": True,
        "worker_last_pass_seconds_ago": None,
        "sims_healthy": None,
        "sims_total": None,
    }
    try:
        with g.db_session.begin():
            g.db_session.execute(text("SELECT 1"))
            age = heartbeat.seconds_since_pass(g.db_session)
            enabled = g.db_session.scalars(select(Sim).where(Sim.enabled.is_(True))).all()
            total = g.db_session.scalar(select(func.count()).select_from(Sim))
    except UNAVAILABLE as exc:
        current_app.extensions["smsbridge"]["unavailable"].record(exc)
        answer.update(status="unready", database=False, problems=["the database does not answer"])
        return jsonify(answer), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    healthy = sum(1 for sim in enabled if sim_state(sim)[0] == "healthy")
    answer.update(
        worker_last_pass_seconds_ago=None if age is None else round(age, 1),
        sims_healthy=healthy,
        sims_total=total,
    )
    if age is None:
        answer["problems"].append("the worker has never run a pass")
    elif age > settings.worker_down_after:
        answer["problems"].append(f"the worker has not run a pass for {int(age)} s")
    if not healthy:
        answer["problems"].append(f"no SIM is healthy ({total} in all)")
    if answer["problems"]:
        answer["status"] = "unready"
        return jsonify(answer), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return jsonify(answer)


@monitoring.get("/metrics")
def metrics():
    settings = current_app.config["SMSBRIDGE_SETTINGS"]
    if settings.metrics_token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode()):
            return Response("a Bearer token is required\n", 401, {"WWW-Authenticate": "Bearer"})
    elif not _loopback(request.remote_addr):
        return Response("/metrics answers loopback only; set SMSBRIDGE_METRICS_TOKEN to open it\n", 403)
    registry = current_app.extensions["smsbridge"]["metrics"]
    return Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
