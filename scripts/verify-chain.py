#!/usr/bin/env python3
"""Recompute Handoff's hash chains from PostgreSQL, independently of Handoff (docs/hash-chain.md).

Needs Python 3 and psql, nothing else. Reads DATABASE_URL. Exit status: 0 valid, 1 invalid, 2 could not check.
    verify-chain.py                       every chain: prints "OK <n> events in <s> streams" and
                                          "OK <n> access log rows", else exits 1
                                          (each stream's last event against handoff.streams, and the
                                          newest checkpoint stored in the database recomputed too)
    verify-chain.py --checkpoint cp.json  also recomputes a saved checkpoint's count and headsDigest
                                          (format 2: checks the access log's head it recorded; saved as
                                          the whole event: checks that checkpoints@version still has its hash)
    verify-chain.py --self-test           checks this script against the worked examples of the spec
"""
import hashlib, json, os, subprocess, sys

ZERO = bytes(32)
UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
# One JSON array per row; json_build_array escapes every control character, so a row is one line.
# Each statement's rows are tagged (the first element), and all of them are read in one
# REPEATABLE READ snapshot, so that appends made meanwhile cannot look like a removed tail.
STORED_CHECKPOINT_QUERY = """SELECT json_build_array('cp', version, data::text) FROM handoff.events
  WHERE stream = 'checkpoints' ORDER BY version DESC LIMIT 1"""
STREAMS_QUERY = f"""SELECT json_build_array('st', stream, version, encode(head_hash, 'hex'),
    {UTC.format('last_recorded_at')}) FROM handoff.streams"""
# No event can have been recorded after the snapshot began; five minutes allow for a standby's clock.
NOW_QUERY = f"""SELECT json_build_array('nw', {UTC.format("(now() + interval '5 minutes')")})"""
QUERY = f"""SELECT json_build_array('ev', stream, version, id, type, {UTC.format('occurred_at')},
    {UTC.format('recorded_at')}, data::text, metadata::text, encode(prev_hash, 'hex'), encode(hash, 'hex'), xid::text,
    position)
  FROM handoff.events ORDER BY stream COLLATE "C", version"""
ACCESS_QUERY = f"""SELECT json_build_array('al', seq, case_seq, {UTC.format('at')}, outcome, role, institution, "user",
    case_id, endpoint, encode(prev_hash, 'hex'), encode(case_prev_hash, 'hex'), encode(hash, 'hex'))
  FROM handoff.access_log ORDER BY seq"""
ACCESS_HEADS_QUERY = """SELECT json_build_array('ah', 'log', '', seq, encode(hash, 'hex')) FROM handoff.access_log_head
  UNION ALL SELECT json_build_array('ah', 'case', case_id, case_seq, encode(hash, 'hex')) FROM handoff.access_case_heads"""
SNAPSHOT = ";\n".join(["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NOW_QUERY, STORED_CHECKPOINT_QUERY,
                       STREAMS_QUERY, QUERY,
                       ACCESS_QUERY, ACCESS_HEADS_QUERY, "COMMIT"])
FORMATS = (None, "handoff-checkpoint-v2")  # a checkpoint's "format": none is format 1


def canonical(stream, version, id, type, occurred_at, recorded_at, data, metadata):
    fields = ["handoff-event-v1", stream, str(version), id, type, occurred_at, recorded_at, data, metadata]
    return "\n".join(fields).encode("utf-8")


def access_canonical(seq, case_seq, at, outcome, role, institution, user, case_id, endpoint):
    fields = ["handoff-access-v1", str(seq), str(case_seq), at, outcome, role, institution or "", user, case_id,
              endpoint]
    return "\n".join(fields).encode("utf-8")


def heads_digest(heads):  # heads: {stream: (version, hash_hex)}, sorted by the UTF-8 bytes of the name
    text = "".join(f"{s}\n{v}\n{h}\n" for s, (v, h) in sorted(heads.items(), key=lambda kv: kv[0].encode()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def database_rows(query=SNAPSHOT):
    env = {**os.environ, "PGCLIENTENCODING": "UTF8"}
    cmd = ["psql", os.environ["DATABASE_URL"], "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", query]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env) as psql:
        for line in psql.stdout:  # bytes: split on LF only (jsonb text may hold a raw U+2028)
            if line.strip():
                yield json.loads(line)
    if psql.returncode != 0:
        print(f"psql failed with status {psql.returncode}", file=sys.stderr)
        sys.exit(2)


def checkpoint_problem(data):
    """Why a checkpoint's data cannot be read (None when it can): a format this script does not know
    is refused, not half-read (docs/hash-chain.md, section 9)."""
    if not isinstance(data, dict) or data.get("format") not in FORMATS or ("format" in data and not data["format"]):
        return "a checkpoint format this script does not understand"
    fields = ["xid", "position", "count", "streams", "headsDigest"]
    if data.get("format"):
        fields += ["accessSeq", "accessHash"]
    missing = [f for f in fields if f not in data]
    return f"the checkpoint lacks {', '.join(missing)}" if missing else None


def verify(rows, checkpoint=None, stored=None, stream_heads=None, saved_event=None, latest=None):
    """rows: [stream, version, id, type, occurred_at, recorded_at, data, metadata, prev_hex, hash_hex, xid, position]
    ordered by stream, version; checkpoint: a saved checkpoint's data; stored: (version, data) of the newest
    checkpoint in the database; stream_heads: handoff.streams as [stream, version, head_hex, last_recorded_at];
    saved_event: (version, hash_hex) of the saved checkpoint event; latest: the latest recorded_at possible
    (the snapshot's start, with a margin). Returns the exit status."""
    events, streams, stream, prev, expected = 0, 0, None, ZERO, 1
    named = [("CHECKPOINT", checkpoint)] + ([(f"STORED CHECKPOINT checkpoints@{stored[0]}", stored[1])] if stored else [])
    limits = {k: ((int(c["xid"]), c["position"]), c) for k, c in named if c}
    covered = {k: [0, {}] for k in limits}  # what lies under each checkpoint: count, heads
    last, checkpoint_hashes = {}, {}  # stream -> (version, hash_hex) of its last event; checkpoints@v -> hash
    last_recorded = {}  # stream -> its last event's recorded_at
    for r in rows:
        if r[0] != stream:
            stream, prev, expected, streams = r[0], ZERO, 1, streams + 1
        digest = hashlib.sha256(prev + canonical(*r[:8])).digest()
        problem = ("version gap" if r[1] != expected else "prev_hash does not match" if r[8] != prev.hex()
                   else f"hash does not match (recomputed {digest.hex()})" if r[9] != digest.hex() else None)
        if not problem and latest and r[5] > latest:
            problem = (f"recorded at {r[5]}, after this check began (the time of record was moved, or this "
                       "server's clock is behind the one that recorded it)")
        if problem:
            print(f"FAIL {r[0]}@{r[1]}: {problem}")
            return 1
        prev, expected, events, last[r[0]] = digest, expected + 1, events + 1, (r[1], r[9])
        last_recorded[r[0]] = r[5]
        if r[0] == "checkpoints":
            checkpoint_hashes[r[1]] = r[9]
        for k, (limit, _) in limits.items():
            if r[0] != "checkpoints" and (int(r[10]), r[11]) <= limit:
                covered[k][0], covered[k][1][r[0]] = covered[k][0] + 1, (r[1], r[9])
    if stream_heads is not None:
        recorded = {h[0]: (h[1], h[2]) for h in stream_heads}
        for name in sorted(set(recorded) | set(last), key=lambda n: n.encode()):
            if recorded.get(name, (0, None))[0] == 0 and name not in last:
                continue
            if recorded.get(name) != last.get(name):
                print(f"FAIL {name}: handoff.streams records {recorded.get(name)} but its last event is "
                      f"{last.get(name)}: events removed from the end, or the table edited")
                return 1
        # The next append's time of record starts from the stream's last_recorded_at: moved, it
        # would date every later event of the stream ahead, unseen by the chains.
        for h in stream_heads:
            if len(h) > 3 and h[3] is not None and h[0] in last_recorded and h[3] != last_recorded[h[0]]:
                print(f"FAIL {h[0]}: handoff.streams records last_recorded_at {h[3]} but its last event was "
                      f"recorded at {last_recorded[h[0]]}: the table edited")
                return 1
    print(f"OK {events} events in {streams} streams")
    status = 0
    for k, (_, c) in limits.items():
        found = (covered[k][0], len(covered[k][1]), heads_digest(covered[k][1]))
        ok = found == (c["count"], c["streams"], c["headsDigest"])
        print(f"{k} {'OK' if ok else 'MISMATCH'}" + " count=%d streams=%d headsDigest=%s" % found)
        status = max(status, 0 if ok else 1)
    if saved_event:
        version, hash_hex = saved_event
        ok = checkpoint_hashes.get(version) == hash_hex
        print(f"CHECKPOINT EVENT checkpoints@{version} " + ("OK" if ok else "MISSING OR REWRITTEN"))
        status = max(status, 0 if ok else 1)
    return status


def verify_access(rows, heads, checkpoint=None, stored=None):
    """rows: [seq, case_seq, at, outcome, role, institution, user, case_id, endpoint, prev_hex, case_prev_hex,
    hash_hex] ordered by seq; heads: [kind, case_id, seq, hash_hex] (kind "log" once, "case" per case);
    checkpoint: a saved checkpoint's data; stored: (version, data) of the newest checkpoint in the database.
    Returns the exit status."""
    n, prev, cases = 0, ZERO, {}  # cases: case_id -> (case_seq, hash bytes) of its last row
    named = [("ACCESS CHECKPOINT", checkpoint)] + (
        [(f"ACCESS STORED CHECKPOINT checkpoints@{stored[0]}", stored[1])] if stored else [])
    limits = {k: c for k, c in named if c and c.get("accessSeq") is not None}
    found_at = {}  # accessSeq -> hash of that row, for each checkpoint's head
    for r in rows:
        seq, case_seq, case_id = r[0], r[1], r[7]
        case_before, case_prev = cases.get(case_id, (0, ZERO))
        digest = hashlib.sha256(bytes.fromhex(r[9]) + bytes.fromhex(r[10]) + access_canonical(*r[:9])).digest()
        problem = (f"rows {n + 1}..{seq - 1} are missing" if seq > n + 1
                   else f"seq {seq} does not follow row {n}" if seq != n + 1
                   else "prev_hash does not match" if r[9] != prev.hex()
                   else f"case_seq is {case_seq} after {case_before}" if case_seq != case_before + 1
                   else "case_prev_hash does not match" if r[10] != case_prev.hex()
                   else f"hash does not match (recomputed {digest.hex()})" if r[11] != digest.hex() else None)
        if problem:
            print(f"FAIL access log row {seq} (case {case_id}): {problem}")
            return 1
        n, prev, cases[case_id] = seq, digest, (case_seq, digest)
        if any(c["accessSeq"] == seq for c in limits.values()):
            found_at[seq] = digest.hex()
    log_heads = [h for h in heads if h[0] == "log"]
    if len(log_heads) != 1 or (log_heads[0][2], log_heads[0][3]) != (n, prev.hex()):
        print(f"FAIL access log: the head table does not match the last row ({n}): rows removed from the end?")
        return 1
    recorded = {h[1]: (h[2], h[3]) for h in heads if h[0] == "case"}
    for case_id in sorted(set(recorded) | set(cases), key=lambda c: c.encode()):
        last = cases.get(case_id)
        if last is None or recorded.get(case_id) != (last[0], last[1].hex()):
            print(f"FAIL access log case {case_id}: its recorded head does not match its last row")
            return 1
    print(f"OK {n} access log rows")
    status = 0
    for k, c in limits.items():
        limit = c["accessSeq"]
        ok = limit == 0 or found_at.get(limit) == c["accessHash"]
        print(f"{k} {'OK' if ok else 'MISMATCH'} accessSeq={limit} found={found_at.get(limit, 'none')}")
        status = max(status, 0 if ok else 1)
    return status


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


# The worked example of the access log (docs/hash-chain.md, section 8).
A1 = "454cf5af7b0f4ff3df09b1dc141cc530be05a6697c2e0c5d988d6a43efe76568"
A2 = "3b8576b9b2aa4b2f4a0aeaf84ef6e04c7c8dcb9a41ba844b8c46828ff3b0e3bb"
A3 = "d39cba2ed98a6c373e3315c2462136097b70c346ad97e63173c236cc6ee80983"
ACCESS_EXAMPLE = [
    [1, 1, "2026-11-20T09:20:00.250000Z", "allowed", "institution", "opav", "advocate-7", "KS-2026-000001",
     "GET /v1/cases/{caseId}/history", "00" * 32, "00" * 32, A1],
    [2, 2, "2026-11-20T09:21:30.000000Z", "denied", "institution", "isf", "duty-officer-3", "KS-2026-000001",
     "GET /v1/cases/{caseId}", A1, A1, A2],
    [3, 1, "2026-11-20T09:21:30.000000Z", "allowed", "coordinator", "natc", "coordinator-1", "KS-2026-000002",
     "GET /cases/{caseId}", A2, "00" * 32, A3],
]
ACCESS_HEADS = [["log", "", 3, A3], ["case", "KS-2026-000001", 2, A2], ["case", "KS-2026-000002", 1, A3]]


def self_test():
    tampered = [EXAMPLE[0], EXAMPLE[1][:6] + [EXAMPLE[1][6].replace("urgent", "routine")] + EXAMPLE[1][7:]]
    checkpoint_v2 = {**EXAMPLE_CHECKPOINT, "format": "handoff-checkpoint-v2", "accessSeq": 3, "accessHash": A3}
    edited = [ACCESS_EXAMPLE[0], ACCESS_EXAMPLE[1][:3] + ["allowed"] + ACCESS_EXAMPLE[1][4:], ACCESS_EXAMPLE[2]]
    results = [verify(EXAMPLE, EXAMPLE_CHECKPOINT), verify(EXAMPLE[1:]), verify(tampered),
               verify(EXAMPLE[:1], EXAMPLE_CHECKPOINT),
               verify_access(ACCESS_EXAMPLE, ACCESS_HEADS, checkpoint_v2),
               verify_access(ACCESS_EXAMPLE[:1] + ACCESS_EXAMPLE[2:], ACCESS_HEADS),  # a row deleted
               verify_access(edited, ACCESS_HEADS),  # a row edited (denied -> allowed)
               verify_access(ACCESS_EXAMPLE[:2], ACCESS_HEADS),  # the tail truncated
               verify_access(ACCESS_EXAMPLE[:2], [["log", "", 2, A2], ["case", "KS-2026-000001", 2, A2]],
                             checkpoint_v2),  # ... and the heads fixed: only the checkpoint sees it
               verify_access(ACCESS_EXAMPLE[:2], [["log", "", 2, A2], ["case", "KS-2026-000001", 2, A2]],
                             stored=(1, checkpoint_v2)),  # ... or the one stored in the database
               verify(EXAMPLE, stream_heads=[["case-KS-2026-000001", 2, EXAMPLE[1][9]]]),
               verify(EXAMPLE[:1], stream_heads=[["case-KS-2026-000001", 2, EXAMPLE[1][9]]]),  # the tail deleted
               verify(EXAMPLE, stored=(1, EXAMPLE_CHECKPOINT)),
               verify(EXAMPLE[:1], stored=(1, EXAMPLE_CHECKPOINT)),  # ... and the stored checkpoint sees it
               int(checkpoint_problem({**EXAMPLE_CHECKPOINT, "format": "handoff-checkpoint-v3"}) is not None),
               int(checkpoint_problem({**EXAMPLE_CHECKPOINT, "format": "handoff-checkpoint-v2"}) is not None),
               verify(EXAMPLE, stream_heads=[["case-KS-2026-000001", 2, EXAMPLE[1][9], EXAMPLE[1][5]]]),
               verify(EXAMPLE, stream_heads=[["case-KS-2026-000001", 2, EXAMPLE[1][9],
                                              "2027-01-06T00:00:00.000000Z"]]),  # last_recorded_at moved
               verify(EXAMPLE, latest="2026-03-01T08:00:00.000000Z")]  # recorded after the check began
    expected = [0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1]
    print("self-test", "passed" if results == expected else f"FAILED {results}")
    return 0 if results == expected else 1


def verify_database(checkpoint=None, saved_event=None):
    rows = database_rows()
    upcoming = next(rows, None)

    def take(tag):  # the rows of `tag`, in the order the snapshot gives them, without the tag
        nonlocal upcoming
        while upcoming is not None and upcoming[0] == tag:
            row, upcoming = upcoming[1:], next(rows, None)
            yield row

    latest = next((r[0] for r in take("nw")), None)
    stored = [(v, json.loads(d)) for v, d in take("cp")]
    if stored and checkpoint_problem(stored[0][1]):
        print(f"FAIL checkpoints@{stored[0][0]}: {checkpoint_problem(stored[0][1])}")
        return 1
    heads = list(take("st"))
    events = take("ev")
    status = verify(events, checkpoint, stored[0] if stored else None, heads, saved_event, latest)
    for _ in events:  # what a failed chain left unread
        pass
    access = verify_access(list(take("al")), list(take("ah")), checkpoint, stored[0] if stored else None)
    return max(status, access)

if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if sys.argv[1:2] == ["--checkpoint"] and len(sys.argv) == 3:
        with open(sys.argv[2], encoding="utf-8") as f:
            saved = json.load(f)
        data = saved.get("data", saved) if isinstance(saved, dict) else None
        if checkpoint_problem(data):
            print(f"{sys.argv[2]}: {checkpoint_problem(data)}", file=sys.stderr)
            sys.exit(2)
        # Saved as the whole event `handoff checkpoint` prints: its place and hash in the stream too.
        event = ((saved["version"], str(saved["hash"]).lower())
                 if "data" in saved and "version" in saved and "hash" in saved else None)
        sys.exit(verify_database(data, event))
    if len(sys.argv) > 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(verify_database())
