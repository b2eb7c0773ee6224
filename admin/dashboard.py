"""The dashboard: one card per SIM, message counts and 30-day charts."""

from __future__ import annotations

from flask_admin import AdminIndexView, expose

from bridge import archive
from bridge.sims import sim_overview

from . import charts
from .auth import SecureView, signed_in_user
from .common import db

DAYS = 30


class DashboardView(SecureView, AdminIndexView):
    @expose("/")
    def index(self):
        user = signed_in_user()
        viewer = None if user.is_admin else user
        with db().begin():
            sims = sim_overview(db(), user=user)
            counts = archive.state_counts(db(), viewer, days=DAYS)
            daily = archive.daily_counts(db(), viewer, days=DAYS)
            per_sim = archive.sim_counts(db(), viewer, days=DAYS)
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
            sims=sims,
            counts=counts,
            days=DAYS,
            stuck_minutes=int(archive.STUCK_AFTER.total_seconds() // 60),
            daily_chart=daily_chart,
            sim_chart=sim_chart,
        )
