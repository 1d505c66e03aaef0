#!/usr/bin/env python3
"""Writes the published corpus (Svix vectors, Clerk payloads) into fuzz/corpus/<target>/ in
each target's input format (see the targets' doc comments), with the inputs that once
failed (fuzz/regressions/<target>/), so that every run starts by trying them again.

fuzz/corpus is not committed: it is what libFuzzer grows, large and machine-made. These
seeds give every run, on any machine, the same start from real payloads and real headers.
Seeds are named after their source, so running this again overwrites rather than adds.
"""

import json
import pathlib
import shutil

FUZZ = pathlib.Path(__file__).resolve().parent
SOURCE = FUZZ.parent / "crates" / "test-support" / "corpus"
CORPUS = FUZZ / "corpus"
REGRESSIONS = FUZZ / "regressions"

HEADER_NAMES = [
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
]


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def headers_seed(values):
    """values: header name -> str, for the headers sent."""
    mask = 0
    parts = []
    for i, name in enumerate(HEADER_NAMES):
        if name in values:
            mask |= 1 << i
        parts.append(values.get(name, "").encode())
    return bytes([mask]) + b"\0".join(parts)


def seed_vectors():
    vectors = json.loads((SOURCE / "svix_vectors.json").read_text())
    for v in vectors:
        timestamp = v.get("timestamp_header") or str(v["timestamp"])
        style = v.get("header_style") or "svix"
        sent = {
            f"{style}-id": v["msg_id"],
            f"{style}-timestamp": timestamp,
            f"{style}-signature": v["signature_header"],
        }
        for omitted in v.get("omit_headers") or []:
            sent.pop(omitted, None)
        write("headers", f"vector-{v['name']}", headers_seed(sent))

        verify = [str(v["now"]), "300", v["secret"], v["msg_id"], timestamp,
                  v["signature_header"], v["payload"]]
        write("verify", f"vector-{v['name']}", b"\0".join(p.encode() for p in verify))

    # Both spellings at once, differing, so the fuzzer starts where precedence matters.
    first = vectors[0]
    both = {
        "svix-id": first["msg_id"],
        "svix-timestamp": str(first["timestamp"]),
        "svix-signature": first["signature_header"],
        "webhook-id": "msg_other",
        "webhook-timestamp": "1",
        "webhook-signature": "v1,other",
    }
    write("headers", "both-spellings", headers_seed(both))
    return len(vectors)


def seed_payloads():
    payloads = sorted((SOURCE / "clerk").glob("*.json"))
    for i, path in enumerate(payloads):
        body = path.read_bytes()
        write("parse", f"clerk-{path.stem}", body)
        write("entry", f"body-{path.stem}", body)
        event_type = path.stem.split("__")[0]
        fields = [
            ("svix_id", f"msg_seed{i}"),
            ("svix_timestamp", "1700000000"),
            ("type", event_type),
            ("received_at", "1700000000123"),
            ("attempt", str(i % 3)),
        ]
        entry = b"\0".join(f"{k}\0{v}".encode() for k, v in fields)
        write("entry", f"fields-{path.stem}", entry + b"\0payload\0" + body)
    return len(payloads)


def seed_regressions():
    count = 0
    for path in sorted(REGRESSIONS.glob("*/*")):
        folder = CORPUS / path.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"regression-{path.name}")
        count += 1
    return count


if __name__ == "__main__":
    vectors = seed_vectors()
    payloads = seed_payloads()
    regressions = seed_regressions()
    print(
        f"seeded fuzz/corpus from {vectors} Svix vectors, {payloads} Clerk payloads"
        f" and {regressions} past findings"
    )
