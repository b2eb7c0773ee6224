"""The dashboard: one line that says whether all is well (worker, SIMs,
stuck messages, open alerts), one card per SIM, message counts and 30-day
charts. Its parts refresh themselves (see the layout)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, url_for
from flask_admin import AdminIndexView, expose

from bridge import alerts, archive, heartbeat, sims
from bridge.errors import BridgeError
from bridge.sims import sim_overview

from . import charts
from .auth import SecureView, signed_in_user
from .common import db, settings, shown_sims

DAYS = 30
LEVELS = ("green", "amber", "red")


def status_line(
    sim_rows: list[dict], counts: dict, open_alerts: list[dict], worker_age: float | None
) -> dict:
    """Is it OK? Each part with its colour; the line takes the worst."""
    down_after = settings().worker_down_after
    parts = []
    if worker_age is None:
        parts.append(("red", "worker", "worker has never run"))
    elif worker_age > down_after:
        parts.append(("red", "worker", f"worker down (last pass {int(worker_age)} s ago)"))
    else:
        parts.append(("green", "worker", f"worker running (last pass {int(worker_age)} s ago)"))
    enabled = [s for s in sim_rows if s["enabled"]]
    healthy = sum(1 for s in enabled if s["state"] == "healthy")
    sim_level = "green" if enabled and healthy == len(enabled) else ("red" if not healthy else "amber")
    parts.append((sim_level, "sims", f"SIMs healthy {healthy}/{len(enabled)}"))
    parts.append(("amber" if counts["stuck"] else "green", "stuck", f"{counts['stuck']} stuck"))
    critical = any(a["level"] == "critical" for a in open_alerts)
    alert_level = "red" if critical else ("amber" if open_alerts else "green")
    parts.append(
        (alert_level, "alerts", f"{len(open_alerts)} open alert{'' if len(open_alerts) == 1 else 's'}")
    )
    worst = max(LEVELS.index(level) for level, _, _ in parts)
    return {"level": LEVELS[worst], "parts": [{"level": lv, "key": k, "text": t} for lv, k, t in parts]}


class DashboardView(SecureView, AdminIndexView):
    @expose("/")
    def index(self):
        user = signed_in_user()
        viewer = None if user.is_admin else user
        stuck_after = timedelta(seconds=settings().stuck_after)
        with db().begin():
            sim_rows = sim_overview(db(), user=user)
            counts = archive.state_counts(db(), viewer, days=DAYS, stuck_after=stuck_after)
            daily = archive.daily_counts(db(), viewer, days=DAYS)
            per_sim = archive.sim_counts(db(), viewer, days=DAYS)
            open_alerts = alerts.list_alerts(db(), open_only=True)
            worker_age = heartbeat.seconds_since_pass(db())
            sim_rows = shown_sims(sim_rows)
        daily_chart = charts.build(
            "line",
            [d.strftime("%d %b") for d in daily["days"]],
            {"sent": daily["sent"], "delivered": daily["delivered"], "failed": daily["failed"]},
        )
        sim_chart = charts.build(
            "bar",
            [row["sim"] for row in per_sim],
            {key: [row[key] for row in per_sim] for key in ("sent", "delivered", "failed")},
        )
        return self.render(
            "smsbridge/dashboard.html",
            status=status_line(sim_rows, counts, open_alerts, worker_age),
            sims=sim_rows,
            counts=counts,
            days=DAYS,
            stuck_minutes=settings().stuck_after // 60,
            daily_chart=daily_chart,
            sim_chart=sim_chart,
        )

    # Not <name>: Flask-Admin passes a view's own name under that keyword.
    @expose("/sims/<sim_name>/start", methods=("POST",))
    def start_sim(self, sim_name: str):
        """Start a SIM's daemon on this host (as `smsbridge smsd start NAME`)."""
        if not signed_in_user().is_admin:
            return self.inaccessible_callback("start_sim")
        try:
            pid = sims.start_daemon(current_app.extensions["smsbridge"]["sessions"], settings(), sim_name)
            flash(f"{sim_name}'s daemon runs (pid {pid}); its heartbeat shows within seconds.", "success")
        except BridgeError as exc:
            flash(exc.message, "error")
        return redirect(url_for(".index"))
