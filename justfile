set dotenv-load

export REDIS_URL := env_var_or_default("REDIS_URL", "redis://127.0.0.1:6379")
export DATABASE_URL := env_var_or_default("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/clerk_sync")

# A crate's dependency not taken from `[workspace.dependencies]` (deny.toml then checks that
# list has nothing unused and nothing declared twice).
workspace_deps_check := "import glob, sys, tomllib; bad = [f'{f}: {name}' for f in sorted(glob.glob('crates/*/Cargo.toml')) for section in ('dependencies', 'dev-dependencies', 'build-dependencies') for name, spec in tomllib.load(open(f, 'rb')).get(section, {}).items() if not (isinstance(spec, dict) and spec.get('workspace'))]; print(*(f'not through [workspace.dependencies]: {b}' for b in bad), sep=chr(10), file=sys.stderr); sys.exit(1 if bad else 0)"

# A source file that does not open with a `//!` line saying what it is for.
module_docs_check := "import glob, sys; bad = [f for f in sorted(glob.glob('crates/*/**/*.rs', recursive=True)) if '/target/' not in f and not open(f).read().lstrip().startswith('//!')]; print(*(f'no //! line saying what it is for: {b}' for b in bad), sep=chr(10), file=sys.stderr); sys.exit(1 if bad else 0)"

# List the recipes.
default:
    @just --list

# Format the code.
fmt:
    cargo fmt --all

# Formatting and clippy, warnings as errors; every dependency through the workspace's list;
# every module says what it is for.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    python3 -c {{ quote(workspace_deps_check) }}
    python3 -c {{ quote(module_docs_check) }}

# Make sure Redis and Postgres answer, starting them with Docker when it is there.
services:
    #!/usr/bin/env bash
    set -euo pipefail
    redis_up() { redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
    pg_up() { pg_isready -d "$DATABASE_URL" >/dev/null 2>&1 || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
    if redis_up && pg_up; then exit 0; fi
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        docker compose up -d --wait redis postgres
        exit 0
    fi
    redis_up || echo "Redis does not answer at $REDIS_URL: start one (redis-server) or set REDIS_URL." >&2
    pg_up || echo "PostgreSQL does not answer at $DATABASE_URL: start one or set DATABASE_URL." >&2
    exit 1

# Everything CI runs: lint, deploy checks, every test against real Redis and Postgres, short chaos.
test: lint check-deploy services
    cargo test --workspace --all-targets
    just chaos short

# Kill and restart everything while events flow, then check every guarantee (`full`: the long run).
chaos profile="short":
    cargo build --workspace --bins
    ./target/debug/clerk-sync-chaos --profile {{profile}}

# Validate the Dockerfile, compose file, dashboards, alert rules and Kubernetes manifests,
# without Docker; then prove each alert fires on a bad series and stays quiet on a good one.
check-deploy:
    python3 deploy/validate.py
    promtool check config deploy/prometheus/prometheus.yml
    promtool check rules deploy/prometheus/alerts.yml
    promtool test rules deploy/prometheus/alerts.test.yml

# The load benchmarks (release build, its own Redis and PostgreSQL), then the micro-benchmarks.
bench runs="3":
    cargo build --release --workspace --bins
    ./target/release/clerk-sync-bench --runs {{runs}} --out target/benchmarks.md
    cargo bench --workspace

# Only the criterion micro-benchmarks of the hot functions.
bench-micro:
    cargo bench --workspace

# Fuzz every parser for `seconds` each, starting from the published corpus: `just fuzz 300`.
fuzz seconds="60":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz --version 0.13.2
    python3 fuzz/seed.py
    cd fuzz
    # No sanitizer: the project's code forbids `unsafe`, and AddressSanitizer needs a nightly
    # compiler for at most the dependencies' unsafe blocks; without one, stable Rust builds.
    cargo fuzz build --sanitizer none
    mkdir -p target/logs
    failed=()
    for target in $(cargo fuzz list); do
        echo "fuzz $target: {{seconds}} s"
        # A 5 s limit per input makes a merely slow (quadratic) input a finding too.
        if cargo fuzz run --sanitizer none "$target" -- -max_total_time={{seconds}} -timeout=5 \
            -print_final_stats=1 > "target/logs/$target.log" 2>&1; then
            grep -h -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "target/logs/$target.log" | sed 's/^/    /'
        else
            failed+=("$target")
            grep -h -A1 -E 'panicked at|ERROR: libFuzzer' "target/logs/$target.log" | grep -v '^--$' | sed 's/^/    /'
            grep -h 'Test unit written' "target/logs/$target.log" | sed 's/^/    /'
        fi
    done
    if (( ${#failed[@]} )); then
        echo "failed: ${failed[*]}; replay with: cd fuzz && cargo fuzz run --sanitizer none <target> <artifact>" >&2
        exit 1
    fi

# Check every dependency's licence, source and name against deny.toml.
deny:
    command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny --version 0.20.2
    cargo deny --manifest-path Cargo.toml check bans licenses sources

# The whole stack in containers.
up:
    docker compose up --build

# Run the migrations against DATABASE_URL.
migrate:
    cargo run --quiet -p clerk-sync -- migrate

# The dead letters, for a look: `just dlq`, or any dlq verb: `just dlq show <entry>`.
dlq *args="list":
    cargo run --quiet -p clerk-sync -- dlq {{args}}

# Sign and post an example event to the local receiver: `just send user.created`.
send type="user.created":
    cargo run --quiet -p clerk-sync -- send {{type}}
