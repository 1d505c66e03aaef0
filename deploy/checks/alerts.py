"""The alert rules: deploy/prometheus/alerts.yml, its tests, and its Kubernetes copy.

promtool checks that the rules parse and that each test passes (`just check-deploy` runs it);
what promtool cannot see is checked here: every rule tells the operator what to run, names
only metrics the binaries export, has a test where it fires and one where it stays quiet,
is loaded by the compose stack's Prometheus, and the PrometheusRule in the Kubernetes base
holds exactly the same groups. Run as a script with --write to rewrite that PrometheusRule
from alerts.yml after changing the rules.
"""
import pathlib
import re
import sys

import yaml

sys.dont_write_bytecode = True  # run as a script too: keep the work tree clean
from common import METRICS, ROOT, fail

ALERTS = "deploy/prometheus/alerts.yml"
TESTS = ("deploy/prometheus/alerts.test.yml",)
PROMETHEUS = "deploy/prometheus/prometheus.yml"
RULE = "deploy/kubernetes/base/alerts.yaml"
KUSTOMIZATION = "deploy/kubernetes/base/kustomization.yaml"
SEVERITIES = {"critical", "warning"}
HEADER = """\
# The alert rules of deploy/prometheus/alerts.yml, for the Prometheus Operator. Written by
# `python3 deploy/checks/alerts.py --write` from that file, which explains each rule: edit it,
# not this one (`just check-deploy` fails when they differ).
# The Operator loads PrometheusRules that its Prometheus's ruleSelector matches: add the label
# it wants (kube-prometheus-stack's default is `release: <its release name>`) in the overlay.
"""


def _groups() -> list:
    return yaml.safe_load((ROOT / ALERTS).read_text())["groups"]


def _rules(groups: list):
    for group in groups:
        for rule in group["rules"]:
            yield rule


def _check_rule(rule: dict) -> None:
    name = rule.get("alert") or rule.get("record")
    where = f"{ALERTS}: {name}"
    if "alert" not in rule:
        return
    if rule.get("labels", {}).get("severity") not in SEVERITIES:
        fail(where, f"labels.severity must be one of {sorted(SEVERITIES)}")
    notes = rule.get("annotations", {})
    for key in ("summary", "description"):
        if not notes.get(key, "").strip():
            fail(where, f"needs a {key} annotation")
    # What to run, quoted as code: a command, a setting to check, a log to read.
    if "`" not in notes.get("description", ""):
        fail(where, "the description must say what to run, in `backticks`")
    for metric in re.findall(r"\b(clerk_sync_[a-z0-9_]+)", rule["expr"]):
        base = re.sub(r"_(bucket|sum|count)$", "", metric)
        if metric not in METRICS and METRICS.get(base) != "histogram":
            fail(where, f"{metric} is not a metric the binaries export")


def _check_tests(alerts: set) -> None:
    fires, quiet = set(), set()
    for path in TESTS:
        text = yaml.safe_load((ROOT / path).read_text())
        if text.get("rule_files") != [pathlib.Path(ALERTS).name]:
            fail(path, f"rule_files must be [{pathlib.Path(ALERTS).name}]")
        for test in text.get("tests", []):
            for case in test.get("alert_rule_test", []):
                name = case["alertname"]
                if name not in alerts:
                    fail(path, f"{test.get('name')!r} tests {name}, which alerts.yml does not define")
                (fires if case.get("exp_alerts") else quiet).add(name)
    for name in sorted(alerts - fires):
        fail(ALERTS, f"{name}: no test where it fires")
    for name in sorted(alerts - quiet):
        fail(ALERTS, f"{name}: no test where it stays quiet")


def _check_compose(compose: dict) -> None:
    config = yaml.safe_load((ROOT / PROMETHEUS).read_text())
    service = compose["services"]["prometheus"]
    config_file = next(a.split("=", 1)[1] for a in service["command"] if a.startswith("--config.file="))
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
    # Relative rule_files resolve against the config file's directory.
    here = pathlib.PurePosixPath(config_file).parent
    loaded = {mounts.get(str(here / f)) for f in config.get("rule_files", [])}
    if f"./{ALERTS}" not in loaded:
        fail(PROMETHEUS, f"rule_files must load {ALERTS}, mounted by docker-compose.yml's prometheus")


def prometheus_rule(groups: list) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "clerk-sync",
            "labels": {"app.kubernetes.io/name": "clerk-sync"},
        },
        "spec": {"groups": groups},
    }


def _check_kubernetes(groups: list) -> None:
    path = ROOT / RULE
    if not path.exists():
        fail(RULE, "missing: write it with `python3 deploy/checks/alerts.py --write`")
        return
    if yaml.safe_load(path.read_text()) != prometheus_rule(groups):
        fail(RULE, f"differs from {ALERTS}: rewrite it with `python3 deploy/checks/alerts.py --write`")
    if pathlib.Path(RULE).name not in yaml.safe_load((ROOT / KUSTOMIZATION).read_text())["resources"]:
        fail(KUSTOMIZATION, f"resources must list {pathlib.Path(RULE).name}")


def check(compose: dict) -> None:
    groups = _groups()
    alerts = set()
    for rule in _rules(groups):
        _check_rule(rule)
        if "alert" in rule:
            if rule["alert"] in alerts:
                fail(ALERTS, f"{rule['alert']} is defined twice")
            alerts.add(rule["alert"])
    _check_tests(alerts)
    _check_compose(compose)
    _check_kubernetes(groups)
    print(f"{ALERTS}: {len(alerts)} alerts, each with a summary, a description, and tests "
          f"that fire and stay quiet; loaded by compose, the same in {RULE}")


class _Dumper(yaml.SafeDumper):
    pass


class _Expr(str):
    """PromQL: a literal block, so no line is ever folded inside an expression."""


class _Prose(str):
    """An annotation: folded, as in alerts.yml."""


_Dumper.add_representer(_Expr, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|"))
_Dumper.add_representer(_Prose, lambda d, v: d.represent_scalar(
    "tag:yaml.org,2002:str", v, style=">" if len(v) > 60 else None))


def write() -> None:
    groups = _groups()
    for rule in _rules(groups):
        rule["expr"] = _Expr(rule["expr"])
        rule["annotations"] = {k: _Prose(v) for k, v in rule.get("annotations", {}).items()}
    body = yaml.dump(prometheus_rule(groups), Dumper=_Dumper, sort_keys=False, width=92)
    (ROOT / RULE).write_text(HEADER + body)
    print(f"{RULE}: written from {ALERTS}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: python3 {sys.argv[0]} --write  (the checks run from deploy/validate.py)")
    write()
