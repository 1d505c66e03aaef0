"""Validates docker-compose.yml against the Compose Specification's JSON schema.

CI has no Docker engine, so `docker compose config` cannot run there; the schema check is
what keeps the compose file honest.
"""
import json
import pathlib
import sys

import jsonschema
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
schema = json.loads((root / "deploy/schemas/compose-spec.json").read_text())
compose = yaml.safe_load((root / "docker-compose.yml").read_text())
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
for error in errors:
    print(f"docker-compose.yml: {'/'.join(map(str, error.path))}: {error.message}", file=sys.stderr)
for name, service in compose["services"].items():
    if "healthcheck" not in service:
        print(f"docker-compose.yml: service {name} has no healthcheck", file=sys.stderr)
        errors.append(name)
if errors:
    sys.exit(1)
print(f"docker-compose.yml: valid ({len(compose['services'])} services)")
