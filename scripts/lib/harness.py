"""Shared helpers for Handoff's reliability scripts (Python 3 standard library only).

Everything here targets loopback only: PostgreSQL listens on a unix socket inside the run folder,
`handoff serve` / `handoff demo` on 127.0.0.1. Every wait is bounded in time.

Run folders live under <repo>/.build-runs/ (ignored by git through `.build-*/`).
"""

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
READ_MODEL_TABLES = [
    "case_summary", "case_parties", "referrals", "deadlines", "deadline_notices", "institutions", "sop_rulesets",
]
DEMO_INSTITUTIONS = ["kp-dthb", "ksp", "opav", "csw-prishtina", "isf", "pvpt", "iom-kosovo", "natc", "audit"]


def log(*parts):
    print(*parts, flush=True)


def handoff_bin():
    given = os.environ.get("HANDOFF_BIN")
    if given:
        return given
    for flavour in ("release", "debug"):
        path = os.path.join(ROOT, ".build", flavour, "handoff")
        if os.access(path, os.X_OK):
            return path
    sys.exit("handoff binary not found: run `swift build -c release` (or set HANDOFF_BIN)")


def run_dir(name):
    """A fresh folder for one run: <repo>/.build-runs/<name>-<time>."""
    base = os.path.join(ROOT, ".build-runs")
    os.makedirs(base, exist_ok=True)
    path = os.path.join(base, "%s-%s" % (name, time.strftime("%Y%m%d-%H%M%S")))
    os.makedirs(path)
    os.chmod(base, 0o755)
    os.chmod(path, 0o755)
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def utc_now_text(offset_seconds=0.0):
    t = datetime.now(timezone.utc) + timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a private, durable cluster run as the postgres user.


class Cluster:
    def __init__(self, directory, port=5432):
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.sock = os.path.join(directory, "run")
        self.logfile = os.path.join(directory, "postgres.log")
        self.port = port
        self.as_postgres = os.geteuid() == 0

    def _cmd(self, args):
        return (["runuser", "-u", "postgres", "--"] + args) if self.as_postgres else args

    def _run(self, args, check=True, timeout=120):
        env = dict(os.environ, LC_ALL="C")
        p = subprocess.run(self._cmd(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=timeout, cwd="/")
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (args[0], p.returncode, p.stdout.decode(errors="replace")[-2000:]))
        return p.returncode

    def init(self, extra_conf=""):
        os.makedirs(self.sock, exist_ok=True)
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            for d in (self.directory, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
                os.chmod(d, 0o700)
        self._run([PG_BIN + "/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C"])
        conf = "\n".join([
            "", "# reliability scripts: durable, loopback only",
            "listen_addresses = ''",
            "port = %d" % self.port,
            "unix_socket_directories = '%s'" % self.sock,
            "max_connections = 300",
            "fsync = on", "synchronous_commit = on", "full_page_writes = on",
            "log_min_messages = warning",
            extra_conf, ""])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(conf)

    def start(self):
        self._run([PG_BIN + "/pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "120", "-s", "start"])

    def stop(self, mode="fast"):
        self._run([PG_BIN + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "-s", "stop"], check=False)

    def running(self):
        return self._run([PG_BIN + "/pg_ctl", "-D", self.data, "-s", "status"], check=False) == 0

    def url(self, db="postgres", user="postgres"):
        return "postgresql:///%s?host=%s&port=%d&user=%s" % (db, self.sock, self.port, user)

    def psql(self, sql, db="postgres", user="postgres", check=True, timeout=120):
        """Runs SQL with psql -X -A -t (unaligned, tuples only, field separator TAB). Returns (rc, out, err)."""
        p = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p",
             str(self.port), "-U", user, "-d", db, "-c", sql],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
            env=dict(os.environ, PGCLIENTENCODING="UTF8"))
        out, err = p.stdout.decode(), p.stderr.decode()
        if check and p.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql[:300], err))
        return p.returncode, out, err

    def rows(self, sql, db="postgres"):
        _, out, _ = self.psql(sql, db=db)
        return [line.split("\t") for line in out.split("\n") if line != ""]

    def value(self, sql, db="postgres"):
        r = self.rows(sql, db)
        return r[0][0] if r else None


# ---------------------------------------------------------------------------------------------
# Processes.


class Proc:
    """A child process with stdout/stderr appended to one log file; started in its own session."""

    def __init__(self, name, args, env, logdir):
        self.name, self.args, self.env = name, args, env
        self.logpath = os.path.join(logdir, name + ".log")
        self.p = None
        self.starts = 0

    def start(self):
        self.logf = open(self.logpath, "ab")
        self.logf.write(("\n=== start %s %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.args))).encode())
        self.logf.flush()
        self.p = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT, env=self.env,
                                  start_new_session=True, cwd=ROOT)
        self.starts += 1
        return self

    @property
    def pid(self):
        return self.p.pid if self.p else None

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            os.kill(self.p.pid, sig)

    def wait(self, timeout=30):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait(timeout=10)

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
        if self.p:
            self.wait(timeout)
        try:
            self.logf.close()
        except Exception:
            pass


def run_handoff(args, url, check=True, timeout=600, capture=True):
    env = dict(os.environ, DATABASE_URL=url)
    p = subprocess.run([handoff_bin()] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=timeout, cwd=ROOT)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise RuntimeError("handoff %s failed (%d): %s %s" % (" ".join(args), p.returncode, out[-1000:], err[-2000:]))
    return p.returncode, out, err


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# HTTP (one request per connection unless a connection is passed in).


class HTTPResult:
    def __init__(self, status, body, headers=None):
        self.status, self.body, self.headers = status, body, headers or {}

    def json(self):
        try:
            return json.loads(self.body)
        except Exception:
            return None

    def error_code(self):
        j = self.json()
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"].get("code")
        return None


def request(port, method, path, token=None, body=None, timeout=10.0, headers=None):
    """Returns HTTPResult; raises OSError/http.client exceptions on connection problems."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Connection": "close"}
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return HTTPResult(r.status, r.read(), dict(r.getheaders()))
    finally:
        conn.close()


def wait_health(port, want=200, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if request(port, "GET", "/health", timeout=2).status == want:
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------
# A seeded store: migrate + reference data + tokens, using `handoff demo --cases N` once.


def setup_store(cluster, db, home, cases=0, logdir=None, timeout=600):
    """Creates database `db`, then runs `handoff demo --cases N --home HOME` against it until it
    serves, and stops it. Returns the tokens (institution id → token) it wrote."""
    cluster.psql("CREATE DATABASE %s" % db)
    url = cluster.url(db)
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url)
    demo = Proc("demo-setup", [handoff_bin(), "demo", "--port", str(port), "--home", home, "--cases", str(cases)],
                env, logdir or home).start()
    try:
        if not wait_health(port, timeout=timeout):
            raise RuntimeError("demo did not come up; see " + demo.logpath)
    finally:
        demo.kill(signal.SIGINT)
        if demo.wait(30) is None:
            demo.kill()
        demo.logf.close()
    with open(os.path.join(home, "tokens.json")) as f:
        return json.load(f)


def tokens_in_files(tokens, paths):
    """[(token-owner, path)] for every token that appears in any of the files."""
    found = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError:
            continue
        for owner, token in tokens.items():
            if token and token.encode() in text:
                found.append((owner, path))
    return found


# ---------------------------------------------------------------------------------------------
# Synthetic case events (valid per Sources/Referrals/Vocabulary).


def case_opened(event_id, occurred_at):
    return {"id": event_id, "type": "CaseOpened", "occurredAt": occurred_at,
            "data": {"identificationStatus": "presumed",
                     "profile": {"sex": "female", "ageBand": "18-24", "child": False, "nationality": "XK",
                                 "exploitation": ["sexual"]}}}


def follow_up(n, event_id, occurred_at):
    """The n-th (n >= 1) follow-up event of a case opened by kp-dthb."""
    k = n % 4
    if k == 0:
        body = ("CaseReviewed", {})
    elif k == 1:
        body = ("RiskAssessed", {"level": ["low", "medium", "high"][n % 3]})
    elif k == 2 and (n // 4) % 2 == 1:
        # Every other referral slot withdraws the referral issued four events before, so that a
        # long-running writer never holds more than one open (an institution may hold 50 in a case).
        body = ("ReferralWithdrawn", {"referralId": "R-%d" % (n - 4), "reason": "no-longer-needed"})
    elif k == 2:
        body = ("ReferralIssued", {"referralId": "R-%d" % n, "to": "opav", "purpose": "victim-advocacy",
                                   "urgency": "routine"})
    else:
        body = ("ConsentRecorded", {"purpose": "information-sharing", "recipients": ["opav"], "given": True})
    return {"id": event_id, "type": body[0], "occurredAt": occurred_at, "data": body[1]}


def new_id():
    return str(uuid.uuid4())
