"""deploy/docker/Dockerfile and .dockerignore: what no `docker build` here can show.

The build context is checked by replaying .dockerignore's rules (last match wins, a pattern
also matches a file's parent directories, `**` spans directories) over the repository.
"""
import os
import re

from common import ROOT, fail

WHERE = "deploy/docker/Dockerfile"
BINARIES = ("clerk-sync-receiver", "clerk-sync-worker", "clerk-sync")


def _pattern(line: str):
    negate = line.startswith("!")
    parts = line.lstrip("!").strip("/").split("/")
    regex = "/".join(".*" if p == "**" else re.escape(p).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
                     for p in parts)
    return negate, re.compile(regex.replace("/.*/", "(/.*)?/") + "$")


def _ignored(path: str, rules) -> bool:
    prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    ignored = False
    for negate, regex in rules:
        if any(regex.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def check() -> None:
    text = (ROOT / WHERE).read_text()
    runs = re.sub(r"\\\n\s*", " ", text)
    build = [line for line in runs.splitlines() if "cargo build" in line]
    wanted = "cargo build --release --locked " + " ".join(f"--bin {b}" for b in BINARIES)
    if not any(" ".join(line.split()).endswith(wanted) for line in build):
        fail(WHERE, f"the build must run `{wanted}`")
    for binary in BINARIES:
        if f"/app/target/release/{binary}" not in text:
            fail(WHERE, f"the runtime image lacks {binary}")

    toolchain = re.search(r'channel\s*=\s*"([^"]+)"', (ROOT / "rust-toolchain.toml").read_text())
    pinned = re.search(r"ARG RUST_VERSION=(\S+)", text)
    if not (toolchain and pinned and toolchain.group(1) == pinned.group(1)):
        fail(WHERE, "ARG RUST_VERSION must equal rust-toolchain.toml's channel")
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    if not user or user[-1].split(":")[0] in ("0", "root"):
        fail(WHERE, "the runtime stage must run as a non-root user")

    rules = [_pattern(line.strip()) for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    needed = ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml"]
    needed += [".cargo/config.toml"] if (ROOT / ".cargo/config.toml").exists() else []
    for top in ("crates", "migrations"):
        for directory, dirs, files in os.walk(ROOT / top):
            dirs[:] = [d for d in dirs if d != "target"]
            needed += [os.path.relpath(os.path.join(directory, f), ROOT) for f in files]
    for path in needed:
        if _ignored(path, rules):
            fail(".dockerignore", f"{path} is left out of the build context, which needs it")
    for path in (".env", ".git/config", "target/release/clerk-sync", "crates/db/target/x"):
        if not _ignored(path, rules):
            fail(".dockerignore", f"{path} would be sent to the builder")
    print(f"{WHERE}: three binaries, toolchain {pinned.group(1) if pinned else '?'}, "
          f"non-root; .dockerignore keeps {len(needed)} needed files in the context")
