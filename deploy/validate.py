"""Validates the deployment files without a Docker engine or a cluster: `just check-deploy`.

CI has neither, so `docker compose config` and `kubectl apply --dry-run=server` cannot run
there; these checks are what keep the files honest. Each concern lives in deploy/checks/:
  image.py          the Dockerfile and the build context (.dockerignore)
  compose.py        docker-compose.yml against the Compose schema, then the stack's rules
  observability.py  Prometheus's scrape jobs and the Grafana dashboard's metric names
  alerts.py         the alert rules: what each tells the operator, their metrics, that each
                    has tests, and their PrometheusRule copy (promtool runs the tests)
  kubernetes.py     the kustomizations rendered, validated against Kubernetes', KEDA's and
                    the Prometheus Operator's schemas, and their wiring (settings, Secret
                    keys, stream, timings)
The tools are pinned in deploy/requirements.txt; .ci/run installs them.
"""
import pathlib
import sys

sys.dont_write_bytecode = True  # keep the work tree clean
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "checks"))

try:
    import alerts
    import common
    import compose
    import image
    import kubernetes
    import observability
except ImportError as error:
    sys.exit(f"deploy/validate.py: {error}; install the checkers with "
             "`python3 -m pip install --user -r deploy/requirements.txt`")

image.check()
stack = compose.check()
observability.check(stack)
alerts.check(stack)
kubernetes.check()

problems = list(dict.fromkeys(common.errors))  # a base's problem shows again in its overlay
for line in problems:
    print(line, file=sys.stderr)
if problems:
    sys.exit(f"deploy/validate.py: {len(problems)} problem(s)")
print("deploy/validate.py: all deployment files valid")
