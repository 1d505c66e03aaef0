"""Prometheus and Grafana files: they must scrape what the stack exposes and chart what the
binaries export, by the exact metric names (a typo there is an empty panel, not an error)."""
import json
import re

import yaml

from common import METRICS, ROOT, fail

PROMETHEUS = "deploy/prometheus/prometheus.yml"
DASHBOARD = "deploy/grafana/dashboards/clerk-sync.json"
DATASOURCES = "deploy/grafana/provisioning/datasources/prometheus.yml"
PROVIDERS = "deploy/grafana/provisioning/dashboards/clerk-sync.yml"


def _prometheus(compose: dict) -> None:
    config = yaml.safe_load((ROOT / PROMETHEUS).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    receiver = [t for c in jobs.get("receiver", {}).get("static_configs", []) for t in c["targets"]]
    if receiver != [f"receiver:{compose['receiver_port']}"]:
        fail(PROMETHEUS, f"job receiver must scrape receiver:{compose['receiver_port']}")
    # Every service running a worker (the scaled `worker`, the `api`), on the one port they share.
    sd = jobs.get("worker", {}).get("dns_sd_configs", [{}])[0]
    workers = compose["workers"]
    if (sorted(sd.get("names") or []), sd.get("type"), sd.get("port")) != (workers, "A", compose["worker_port"]):
        fail(PROMETHEUS, "job worker must find every replica: dns_sd_configs names "
                         f"{workers}, type A, port {compose['worker_port']}")
    for name in workers:
        bind = (compose["services"][name].get("environment") or {}).get("WORKER_METRICS_BIND", "")
        if not bind.endswith(f":{compose['worker_port']}"):
            fail(PROMETHEUS, f"services.{name} must serve its metrics on port {compose['worker_port']}, "
                             "where job worker scrapes")


def _metric_names(expr: str):
    for match in re.finditer(r"\b(clerk_sync_[a-z0-9_]+)", expr):
        name, start = match.group(1), match.start()
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base != name and METRICS.get(base) == "histogram":
            yield base, start
        elif METRICS.get(name) == "histogram":
            fail(DASHBOARD, f"{name} is a histogram: query its _bucket, _sum or _count series")
        else:
            yield name, start


def _dashboard(grafana: dict) -> None:
    dashboard = json.loads((ROOT / DASHBOARD).read_text())
    variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
    ids, used = set(), set()
    for panel in dashboard["panels"]:
        where = f"{DASHBOARD}: panel {panel.get('title')!r}"
        if panel["id"] in ids:
            fail(where, f"duplicate id {panel['id']}")
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        uid = panel.get("datasource", {}).get("uid", "")
        if uid.startswith("${") and uid[2:-1] not in variables:
            fail(where, f"datasource {uid} is not a dashboard variable")
        for target in panel.get("targets", []):
            expr = target.get("expr", "")
            for name, start in _metric_names(expr):
                if name not in METRICS:
                    fail(where, f"{name} is not a metric the binaries export")
                    continue
                used.add(name)
                if METRICS[name] == "counter" and not re.search(r"(rate|increase)\(\s*$", expr[:start]):
                    fail(where, f"counter {name} must be read through rate() or increase()")
    for name in sorted(set(METRICS) - used):
        fail(DASHBOARD, f"no panel shows {name}")
    default = next((v.get("current", {}).get("value") for v in dashboard["templating"]["list"]
                    if v["name"] == "datasource"), None)
    if default != grafana["uid"]:
        fail(DASHBOARD, f"the datasource variable must default to the provisioned uid {grafana['uid']!r}")
    print(f"{DASHBOARD}: {len(ids)} panels chart all {len(used)} metrics")


def check(compose: dict) -> None:
    _prometheus(compose)
    source = yaml.safe_load((ROOT / DATASOURCES).read_text())["datasources"][0]
    if source["url"] != "http://prometheus:9090":
        fail(DATASOURCES, "must point at the compose service prometheus:9090")
    provider = yaml.safe_load((ROOT / PROVIDERS).read_text())["providers"][0]
    mounts = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]}
    if provider["options"]["path"] not in mounts:
        fail(PROVIDERS, f"{provider['options']['path']} is not where docker-compose.yml mounts the dashboards")
    _dashboard(source)
    print(f"{PROMETHEUS}: scrapes the receiver and every worker replica")
