"""docker-compose.yml: the Compose schema, then the rules the stack's guarantees rest on."""
import json
import re

import jsonschema
import yaml

from common import ALL, DEFAULTS, ROOT, WORKER, check_settings, fail, port_of, seconds

WHERE = "docker-compose.yml"


def check() -> dict:
    text = (ROOT / WHERE).read_text()
    compose = yaml.safe_load(text)
    schema = json.loads((ROOT / "deploy/schemas/compose-spec.json").read_text())
    for error in sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str):
        fail(WHERE, f"{'/'.join(map(str, error.path))}: {error.message}")

    # `docker compose up` on a fresh clone: no variable may be required or left empty.
    for match in re.finditer(r"\$\{([A-Z0-9_]+)(:?[-?+]?)", text):
        if match.group(2) not in (":-", "-"):
            fail(WHERE, f"${{{match.group(1)}}} has no default: `up` would need a .env")

    services = compose["services"]
    # One-shot: what another service waits on to have exited 0.
    one_shot = {name for s in services.values() for name, dep in (s.get("depends_on") or {}).items()
                if isinstance(dep, dict) and dep.get("condition") == "service_completed_successfully"}

    for name, service in services.items():
        where = f"{WHERE}: services.{name}"
        if name in one_shot:
            if service.get("restart", "no") != "no":
                fail(where, "a one-shot service must not restart")
        elif "healthcheck" not in service:
            fail(where, "a long-running service needs a healthcheck")
        for dep, spec in (service.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dep in one_shot else "service_healthy"
            if not isinstance(spec, dict) or spec.get("condition") != wanted:
                fail(where, f"depends_on {dep} needs condition {wanted}")
        for env_file in service.get("env_file") or []:
            if not isinstance(env_file, dict) or env_file.get("required") is not False:
                fail(where, "env_file must say required: false, so no .env is needed")
        if name in ("redis", "postgres", "prometheus", "grafana"):
            for port in service.get("ports", []):
                if not str(port).startswith("127.0.0.1:"):
                    fail(where, f"port {port} must be bound to 127.0.0.1 only")
        command = service.get("command") or [""]
        if command[0] in ALL:
            environment = service.get("environment") or {}
            check_settings(where, command[0], environment.keys())
            # Set but empty is not unset: the binaries refuse an empty value at start.
            for key, value in environment.items():
                if value is not None and re.fullmatch(r"|\$\{[A-Z0-9_]+:?-\}", str(value)):
                    fail(where, f"{key} may end up empty, which stops the process with exit 2: "
                                f"leave the value out (`{key}:`) to pass it only when set")
        if command[0] == WORKER:
            _check_worker(where, service)

    redis = " ".join(services["redis"]["command"])
    for setting in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        if setting not in redis:
            fail(f"{WHERE}: services.redis", f"the queue needs `{setting}`")

    worker = services["worker"]
    if "container_name" in worker or "ports" in worker:
        fail(f"{WHERE}: services.worker", "no container_name or ports, or --scale fails")
    if (worker.get("deploy") or {}).get("replicas", 1) < 2:
        fail(f"{WHERE}: services.worker", "run at least two replicas by default")
    env = worker.get("environment") or {}
    workers = sorted(name for name, s in services.items() if (s.get("command") or [""])[0] == WORKER)
    api = [name for name in workers if "CLERK_SYNC_API_TOKEN" in (services[name].get("environment") or {})]
    if not api:
        fail(WHERE, "no service serves the application API (CLERK_SYNC_API_TOKEN)")
    if services["migrate"].get("command") != ["clerk-sync", "migrate"]:
        fail(f"{WHERE}: services.migrate", "must run `clerk-sync migrate`")

    print(f"{WHERE}: schema and rules checked ({len(services)} services, "
          f"one-shot: {', '.join(sorted(one_shot))})")
    return {
        "receiver_port": port_of(services["receiver"]["environment"]["RECEIVER_BIND"]),
        "worker_port": port_of(env["WORKER_METRICS_BIND"]),
        "workers": workers,
        "services": compose["services"],
    }


def _check_worker(where: str, service: dict) -> None:
    """What every service running clerk-sync-worker needs, scaled or not."""
    env = service.get("environment") or {}
    if str(env.get("MIGRATE_ON_START")) != "false":
        fail(where, "MIGRATE_ON_START must be \"false\": `migrate` owns them")
    timeout = int(env.get("ATTEMPT_TIMEOUT_MS", DEFAULTS["ATTEMPT_TIMEOUT_MS"])) / 1000
    if seconds(service.get("stop_grace_period", "10s")) <= timeout:
        fail(where, f"stop_grace_period must exceed one attempt ({timeout:g} s)")
    # A default key is a placeholder (a fresh clone has no real one): Clerk refuses it, so a
    # schedule running with it would fail on every look.
    key = str(env.get("CLERK_SECRET_KEY") or "")
    if re.search(r"\$\{CLERK_SECRET_KEY:?-[^}]", key) and str(env.get("RECONCILE_INTERVAL")) != "0":
        fail(where, "a default CLERK_SECRET_KEY is a placeholder: set RECONCILE_INTERVAL \"0\" here")
    if "CLERK_SYNC_API_TOKEN" not in env:
        return
    if not key:
        fail(where, "the application API needs CLERK_SECRET_KEY, or the worker exits 2 at start")
    api_port = port_of(str(env.get("API_BIND", DEFAULTS["API_BIND"])))
    published = [str(p) for p in service.get("ports", [])]
    if not any(p.split(":")[-1] == str(api_port) for p in published):
        fail(where, f"publish the API's port {api_port} (API_BIND) on 127.0.0.1")
    for port in published:
        if not port.startswith("127.0.0.1:"):
            fail(where, f"port {port} must be bound to 127.0.0.1 only: the API is internal")
