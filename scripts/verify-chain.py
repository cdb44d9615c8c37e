#!/usr/bin/env python3
"""Recompute Handoff's hash chains from PostgreSQL, independently of Handoff (docs/hash-chain.md).

Needs Python 3 and psql, nothing else. Reads DATABASE_URL. Exit status: 0 valid, 1 invalid, 2 could not check.
    verify-chain.py                       every chain: prints "OK <n> events in <s> streams", else exits 1
    verify-chain.py --checkpoint cp.json  also recomputes a saved checkpoint's count and headsDigest
    verify-chain.py --self-test           checks this script against the worked example of the spec
"""
import hashlib, json, os, subprocess, sys

ZERO = bytes(32)
UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
# One JSON array per row; json_build_array escapes every control character, so a row is one line.
QUERY = f"""SELECT json_build_array(stream, version, id, type, {UTC.format('occurred_at')}, {UTC.format('recorded_at')},
    data::text, metadata::text, encode(prev_hash, 'hex'), encode(hash, 'hex'), xid::text, position)
  FROM handoff.events ORDER BY stream COLLATE "C", version"""


def canonical(stream, version, id, type, occurred_at, recorded_at, data, metadata):
    fields = ["handoff-event-v1", stream, str(version), id, type, occurred_at, recorded_at, data, metadata]
    return "\n".join(fields).encode("utf-8")


def heads_digest(heads):  # heads: {stream: (version, hash_hex)}, sorted by the UTF-8 bytes of the name
    text = "".join(f"{s}\n{v}\n{h}\n" for s, (v, h) in sorted(heads.items(), key=lambda kv: kv[0].encode()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def database_rows():
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    cmd = ["psql", os.environ["DATABASE_URL"], "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", QUERY]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) as psql:
        for line in psql.stdout:  # bytes: split on LF only (jsonb text may hold a raw U+2028)
            if line.strip():
                yield json.loads(line)
    if psql.returncode != 0:
        print(f"psql failed with status {psql.returncode}", file=sys.stderr)
        sys.exit(2)


def verify(rows, checkpoint=None):
    """rows: [stream, version, id, type, occurred_at, recorded_at, data, metadata, prev_hex, hash_hex, xid, position]
    ordered by stream, version. Returns the exit status."""
    events, streams, stream, prev, expected = 0, 0, None, ZERO, 1
    covered, heads = 0, {}  # what lies under the checkpoint, when one is given
    limit = (int(checkpoint["xid"]), checkpoint["position"]) if checkpoint else None
    for r in rows:
        if r[0] != stream:
            stream, prev, expected, streams = r[0], ZERO, 1, streams + 1
        digest = hashlib.sha256(prev + canonical(*r[:8])).digest()
        problem = ("version gap" if r[1] != expected else "prev_hash does not match" if r[8] != prev.hex()
                   else f"hash does not match (recomputed {digest.hex()})" if r[9] != digest.hex() else None)
        if problem:
            print(f"FAIL {r[0]}@{r[1]}: {problem}")
            return 1
        prev, expected, events = digest, expected + 1, events + 1
        if limit and r[0] != "checkpoints" and (int(r[10]), r[11]) <= limit:
            covered, heads[r[0]] = covered + 1, (r[1], r[9])
    print(f"OK {events} events in {streams} streams")
    if checkpoint:
        found = (covered, len(heads), heads_digest(heads))
        ok = found == (checkpoint["count"], checkpoint["streams"], checkpoint["headsDigest"])
        print(("CHECKPOINT OK" if ok else "CHECKPOINT MISMATCH") + " count=%d streams=%d headsDigest=%s" % found)
        return 0 if ok else 1
    return 0


# The worked example of docs/hash-chain.md (synthetic data).
EXAMPLE = [
    ["case-KS-2026-000001", 1, "0f3c2a1e-7b4d-4c8e-9a21-5d6f7e8a9b0c", "CaseOpened",
     "2026-11-20T09:15:00.000000Z", "2026-11-20T09:16:02.123456Z",
     '{"profile": {"sex": "female", "child": false, "ageBand": "18-24", "nationality": "XK", '
     '"exploitation": ["sexual", "forced-labour"]}, "identificationStatus": "presumed"}',
     '{"actor": {"user": "officer-1182", "institution": "kp-dthb"}, "causationId": null, '
     '"correlationId": "5b1d7c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f"}', "00" * 32,
     "c644e82e02376b78d2296005305d30ecad416262afca35bba61802a8ba00ae1a", "1000", 1],
    ["case-KS-2026-000001", 2, "7a9e4c2b-1d3f-4b5a-8e6c-9f0a1b2c3d4e", "ReferralIssued",
     "2026-11-20T10:00:00.000000Z", "2026-11-20T10:00:01.500000Z",
     '{"to": "opav", "purpose": "victim-advocacy", "urgency": "urgent", '
     '"referralId": "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f"}',
     '{"actor": {"user": "officer-1182", "institution": "kp-dthb"}, '
     '"causationId": "0f3c2a1e-7b4d-4c8e-9a21-5d6f7e8a9b0c", "correlationId": "5b1d7c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f"}',
     "c644e82e02376b78d2296005305d30ecad416262afca35bba61802a8ba00ae1a",
     "6d08467f32f87585398f6784522279af62c8fa995a845cb69823998f41ef6794", "1001", 2],
]
EXAMPLE_CHECKPOINT = {"xid": "1001", "position": 2, "count": 2, "streams": 1,
                      "headsDigest": "7d8745cf136be36cf35e7a9ebce835ad116866bae9f3e63f94db54ea4d8f7588"}


def self_test():
    tampered = [EXAMPLE[0], EXAMPLE[1][:6] + [EXAMPLE[1][6].replace("urgent", "routine")] + EXAMPLE[1][7:]]
    results = [verify(EXAMPLE, EXAMPLE_CHECKPOINT), verify(EXAMPLE[1:]), verify(tampered),
               verify(EXAMPLE[:1], EXAMPLE_CHECKPOINT)]
    print("self-test", "passed" if results == [0, 1, 1, 1] else f"FAILED {results}")
    return 0 if results == [0, 1, 1, 1] else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if sys.argv[1:2] == ["--checkpoint"] and len(sys.argv) == 3:
        with open(sys.argv[2], encoding="utf-8") as f:
            sys.exit(verify(database_rows(), json.load(f)))
    if len(sys.argv) > 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(verify(database_rows()))
