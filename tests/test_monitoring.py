"""/healthz (liveness), /readyz (database, worker, a healthy SIM) and
/metrics (Prometheus text, parsed with prometheus_client's own parser)."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from bridge.jobs.scheduler import Worker
from bridge.web import create_app
from tests.conftest import wait_for
from tests.helpers import dispatch_all, harvest_until
from tests.test_sending import queue


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_scraped_and_parsed(client, modems, make_user, sessions, settings):
    make_user("alice")
    modems.add("simA", limit=100)
    modems.add("simB", start=False)
    modems.health()
    ids = queue(sessions, settings, "alice", "+79991234567", "one") + queue(
        sessions, settings, "alice", "+79991234568", "two"
    )
    dispatch_all(sessions, settings)
    harvest_until(sessions, ids)
    queue(sessions, settings, "alice", "+79991234569", "waiting")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found = samples(response.get_data(as_text=True))

    assert found[("smsbridge_database_up", ())] == 1
    assert found[("smsbridge_messages", (("status", "sent"),))] == 2
    assert found[("smsbridge_messages", (("status", "queued"),))] == 1
    assert found[("smsbridge_messages_accepted_total", ())] == 3
    assert found[("smsbridge_messages_sent_total", (("sim", "simA"),))] == 2
    assert found[("smsbridge_queue_depth", ())] == 1
    assert found[("smsbridge_queue_oldest_age_seconds", ())] >= 0
    assert found[("smsbridge_sim_up", (("sim", "simA"),))] == 1
    assert found[("smsbridge_sim_up", (("sim", "simB"),))] == 0
    assert found[("smsbridge_sim_state", (("sim", "simB"), ("state", "dead")))] == 1
    assert found[("smsbridge_sim_parts_used", (("sim", "simA"),))] == 2
    assert found[("smsbridge_sim_parts_limit", (("sim", "simA"),))] == 100
    assert ("smsbridge_sim_parts_limit", (("sim", "simB"),)) not in found
    assert found[("smsbridge_sim_outbox_waiting", (("sim", "simA"),))] == 0
    assert found[("smsbridge_webhook_backlog", ())] == 0
    assert found[("smsbridge_alerts_open", (("kind", "sim:down"),))] == 0


def test_metrics_answer_loopback_only_unless_a_token_is_set(settings, engine):
    app = create_app(settings, engine=engine)
    assert app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403

    guarded = create_app(dataclasses.replace(settings, metrics_token="s3cret"), engine=engine).test_client()
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    far = {"REMOTE_ADDR": "10.1.2.3"}
    answer = guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"}, environ_base=far)
    assert answer.status_code == 200 and b"smsbridge_database_up 1.0" in answer.data


def test_healthz_is_liveness_only(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_turns_503_when_the_worker_stops_and_200_when_it_is_back(modems, sessions, settings, engine):
    quick = dataclasses.replace(settings, worker_down_after=2)
    client = create_app(quick, engine=engine).test_client()
    modems.add("simA")

    never = client.get("/readyz")
    assert never.status_code == 503 and never.get_json()["problems"] == ["the worker has never run a pass"]

    def status():
        return client.get("/readyz").status_code

    worker = Worker(quick)
    worker.start()
    try:
        wait_for(lambda: status() == 200, what="/readyz to answer 200")
        ready = client.get("/readyz").get_json()
        assert ready["status"] == "ready" and ready["sims_healthy"] == 1 and ready["problems"] == []
    finally:
        assert worker.stop() == []

    wait_for(lambda: status() == 503, what="/readyz to notice the worker stopped")
    down = client.get("/readyz")
    assert down.headers["Retry-After"] == "5"
    assert down.get_json()["problems"][0].startswith("the worker has not run a pass for")

    worker = Worker(quick)
    worker.start()
    try:
        wait_for(lambda: status() == 200, what="/readyz to see the worker back")
    finally:
        worker.stop()


def test_readyz_says_when_no_sim_is_healthy(modems, sessions, settings, engine):
    from bridge import heartbeat

    client = create_app(settings, engine=engine).test_client()
    modems.add("simA", start=False)
    modems.health()
    with sessions.begin() as session:
        heartbeat.record(session, "health")
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["problems"] == ["no SIM is healthy (1 in all)"]


def test_the_grafana_dashboard_and_prometheus_rules_use_only_served_metric_names(client):
    import re
    from pathlib import Path

    served = set(re.findall(r"^# TYPE (\w+)", client.get("/metrics").get_data(as_text=True), flags=re.M))
    served |= {name + "_total" for name in served}
    deploy = Path(__file__).resolve().parent.parent / "deploy"
    for name in ("grafana-dashboard.json", "prometheus-rules.yml"):
        used = set(re.findall(r"\bsmsbridge_[a-z_]+", (deploy / name).read_text()))
        assert used and used <= served, f"{name} uses {sorted(used - served)}"
