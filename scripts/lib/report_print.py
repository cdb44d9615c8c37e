#!/usr/bin/env python3
"""Prints the annual report to PDF with headless Chromium and checks the PDF with poppler-utils.

Used by scripts/browser-check (the report served by the demo, printed over the DevTools protocol
with Page.printToPDF, in several languages) and scripts/report-print-check (a file written by
`handoff report annual`). Python 3 standard library only; synthetic data only.

    report_print.py browser --base URL --tokens FILE --out DIR --chromium PATH --work DIR
                            [--year Y] [--langs en,sq] [--update-docs REPO]
    report_print.py check PDF [--expect TEXT] [--png PREFIX]

A PDF passes when it has at least one page, no page is blank (every page, rendered in grey at
30 dpi, has at least 0.5 % of its pixels darker than white), and, with --expect, its text holds
TEXT (the report's title in the language asked for). Every wait is bounded.
"""

import argparse
import base64
import glob
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

# The share of a page's pixels that must carry ink (grey below 250 of 255) for it not to be blank.
MIN_INK = 0.005
# The report's title per language (Catalogues/report.<lang>.json, annual.report.title), to find in
# the PDF's text; sr-Cyrl is the Serbian Latin title transliterated by the server.
TITLE_KEY = "annual.report.title"


def say(text):
    print("report-print: " + text, file=sys.stderr)


def ensure_poppler():
    """pdfinfo/pdftoppm/pdftotext, installed with apt-get when missing and running as root."""
    if all(shutil.which(t) for t in ("pdfinfo", "pdftoppm", "pdftotext")):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing poppler-utils with apt-get…")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "poppler-utils"], check=True, env=env, timeout=600,
                       stdout=subprocess.DEVNULL)
    if not all(shutil.which(t) for t in ("pdfinfo", "pdftoppm", "pdftotext")):
        sys.exit("report-print: pdfinfo/pdftoppm/pdftotext not found (apt-get install poppler-utils)")


def check_pdf(pdf, expect=None, png=None):
    """Checks one PDF; returns a list of failures (empty: it passed) and prints what it measured."""
    failures = []
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, timeout=60)
    pages = 0
    for line in info.stdout.splitlines():
        if line.startswith("Pages:"):
            pages = int(line.split()[1])
    if pages < 1:
        return [f"{pdf}: no pages ({info.stderr.strip()})"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "30", "-gray", pdf, os.path.join(tmp, "page")], check=True, timeout=120)
        files = sorted(glob.glob(os.path.join(tmp, "page-*.pgm")))
        if len(files) != pages:
            failures.append(f"{pdf}: {len(files)} page images for {pages} pages")
        inks = []
        for f in files:
            data = open(f, "rb").read()
            # P5 header: magic, width, height, maxval, then one byte per pixel.
            parts = data.split(maxsplit=4)
            width, height, pixels = int(parts[1]), int(parts[2]), parts[4][: int(parts[1]) * int(parts[2])]
            ink = sum(1 for b in pixels if b < 250) / max(1, width * height)
            inks.append(ink)
            if ink < MIN_INK:
                failures.append(f"{pdf}: page {len(inks)} is blank ({ink:.2%} ink)")
    say(f"{os.path.basename(pdf)}: {pages} pages, ink per page " + ", ".join(f"{i:.1%}" for i in inks))
    if expect is not None:
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", pdf, "-"], capture_output=True, timeout=60).stdout
        if expect not in text.decode("utf-8", "replace"):
            failures.append(f"{pdf}: its text does not hold {expect!r}")
    if png:
        subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, png], check=True,
                       timeout=120)
    return failures


# --- A DevTools client: just enough of RFC 6455 to send commands and read their answers ---------

class DevTools:
    def __init__(self, url, timeout=30):
        hostport, path = url[len("ws://"):].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake failed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused")
        self.buffer = head.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0
        self.events = []

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if opcode == 0x9:
                continue
            message += payload
            if b0 & 0x80 and opcode in (0x0, 0x1, 0x2):
                return json.loads(message.decode())

    def call(self, method, timeout=60, **params):
        self.next_id += 1
        my_id = self.next_id
        payload = json.dumps({"id": my_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        n = len(payload)
        header += bytes([0x80 | n]) if n < 126 else (bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536
                                                       else bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        end = time.time() + timeout
        while time.time() < end:
            message = self._receive()
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)
        raise RuntimeError(f"{method}: no answer in {timeout} s")

    def wait_for(self, method, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    del self.events[: i + 1]
                    return m
            self.events.append(self._receive())
        raise RuntimeError(f"no {method} in {timeout} s")


def sign_in(base, token):
    """A dashboard session for `token` (POST /login, same origin); returns the session cookie's value."""
    body = urllib.parse.urlencode({"token": token}).encode()
    request = urllib.request.Request(base + "/login", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Origin": base})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        response = opener.open(request, timeout=30)
        headers = response.headers
    except urllib.error.HTTPError as error:  # the 303 to the dashboard
        headers = error.headers
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("handoff_session="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise RuntimeError("signing in gave no session cookie")


def expected_title(repo, lang):
    name = "sr-Latn" if lang.startswith("sr") else lang
    title = json.load(open(os.path.join(repo, "Catalogues", f"report.{name}.json"), encoding="utf-8"))["messages"][TITLE_KEY]
    if lang == "sr-Cyrl":
        return None  # transliterated by the server; the <html lang> check covers it
    return title


def browser(args):
    ensure_poppler()
    repo = args.repo
    tokens = json.load(open(args.tokens))
    session = sign_in(args.base, tokens["natc"])  # the coordinator: counts under 5 withheld
    year = args.year or time.gmtime().tm_year
    failures = []
    profile = os.path.join(args.work, "report-print-profile")
    chromium = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--password-store=basic",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.work, "report-print-chromium.log"), "w"))
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(150):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if chromium.poll() is not None:
                raise RuntimeError("chromium exited; see report-print-chromium.log")
            time.sleep(0.2)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = DevTools(next(t for t in targets if t.get("type") == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Network.enable")
        page.call("Network.setCookie", name="handoff_session", value=session, url=args.base + "/", httpOnly=True,
                  sameSite="Strict")
        for lang in args.langs.split(","):
            url = f"{args.base}/reports/annual?year={year}&lang={lang}"
            page.events.clear()
            page.call("Page.navigate", url=url)
            page.wait_for("Page.loadEventFired")
            shown = page.call("Runtime.evaluate", expression="document.documentElement.lang + ' ' + location.pathname",
                              returnByValue=True)["result"]["value"]
            if shown != f"{lang} /reports/annual":
                failures.append(f"{lang}: the page is {shown!r}, not the report in {lang}")
                continue
            pdf = os.path.join(args.out, f"annual-report-{year}-{lang}.pdf")
            result = page.call("Page.printToPDF", timeout=120, preferCSSPageSize=True, printBackground=False,
                               displayHeaderFooter=False)
            with open(pdf, "wb") as f:
                f.write(base64.b64decode(result["data"]))
            png = os.path.join(args.out, f"annual-report-{year}-{lang}") if args.update_docs else None
            failures += check_pdf(pdf, expect=expected_title(repo, lang), png=png)
    finally:
        chromium.terminate()
        try:
            chromium.wait(10)
        except subprocess.TimeoutExpired:
            chromium.kill()
    if failures:
        for failure in failures:
            print("FAIL " + failure, file=sys.stderr)
        sys.exit(1)
    say(f"the report for {year} printed to PDF in {args.langs}: every PDF has pages and none is blank")
    if args.update_docs:
        docs = os.path.join(repo, "docs")
        shutil.copy(os.path.join(args.out, f"annual-report-{year}-en.pdf"), os.path.join(docs, "annual-report.pdf"))
        for lang in args.langs.split(","):
            name = "annual-report.png" if lang == "en" else f"annual-report-{lang}.png"
            shutil.copy(os.path.join(args.out, f"annual-report-{year}-{lang}.png"), os.path.join(docs, name))
        say("updated docs/annual-report.pdf and docs/annual-report[-<lang>].png")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("browser")
    b.add_argument("--base", required=True)
    b.add_argument("--tokens", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--chromium", required=True)
    b.add_argument("--work", required=True)
    b.add_argument("--year", type=int)
    b.add_argument("--langs", default="en,sq")
    b.add_argument("--repo", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    b.add_argument("--update-docs", action="store_true")
    c = sub.add_parser("check")
    c.add_argument("pdf")
    c.add_argument("--expect")
    c.add_argument("--png")
    args = parser.parse_args()
    if args.command == "browser":
        browser(args)
    else:
        ensure_poppler()
        failures = check_pdf(args.pdf, expect=args.expect, png=args.png)
        for failure in failures:
            print("FAIL " + failure, file=sys.stderr)
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
