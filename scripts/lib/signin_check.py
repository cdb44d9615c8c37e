"""browser-check's persons' sign-in (issue 14): password, and password plus one-time code.

Called by scripts/browser-check's driver once the token checks are done, with its DevTools page,
the demo's base URL, the demo's home (where persons.json lies) and its `check` function. The
one-time code is computed here from the key the demo printed (RFC 6238: HMAC-SHA-1, 6 digits,
30 s), with Python's hmac; no password or code is ever printed.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import time


def totp(key, at=None):
    """The 6-digit code of a base32 key now (or at a Unix time)."""
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    step = int((time.time() if at is None else at) // 30)
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def submit(page, user, password, code=None):
    """Fills the password form and submits it; returns (path, alert text)."""
    page.events.clear()
    fill = "document.getElementById('user').value = %s; document.getElementById('password').value = %s; " % (
        json.dumps(user), json.dumps(password))
    fill += "document.getElementById('code').value = %s; " % json.dumps(code or "")
    page.eval(fill + "document.getElementById('password-sign-in').requestSubmit(); true")
    page.wait_for("Page.loadEventFired")
    return page.eval("location.pathname"), page.eval(
        "((document.querySelector('[role=alert]') || {}).textContent || '').trim()")


def log_out(page, base):
    """Logs out from a page without a live stream (the dashboard's would otherwise race the logout
    and log a refused reconnection)."""
    page.navigate(base + "/account/one-time-code")
    page.events.clear()
    page.eval("document.querySelector('form[action=\"/logout\"]').requestSubmit(); true")
    page.wait_for("Page.loadEventFired")


def run(page, base, home, check, console_errors):
    """The checks; `console_errors` is the driver's list, from which the three refusals made on
    purpose here (each a 401 the browser logs as a failed load) are taken out again."""
    persons = json.load(open(os.path.join(home, "persons.json")))
    check(set(persons) >= {"natc", "audit", "opav"} and bool(persons["natc"].get("oneTimeCodeKey")),
          "the demo wrote persons.json with a one-time-code key for natc")
    page.navigate(base + "/login")
    check(page.eval("['user', 'password', 'code'].every(f => !!document.querySelector('label[for=' + f + ']') "
                    "&& !!document.getElementById(f))"), "the sign-in form has labelled user, password and code fields")
    check(page.eval("!!document.querySelector('a[href=\"/login?with=token\"]')"), "the token sign-in is one link away")

    # A wrong password: an alert, no session.
    where, alert = submit(page, "opav", "not the password at all")
    check(where == "/login" and alert != "", "a wrong password is refused with a message")

    # An institution's person: password only.
    where, alert = submit(page, "opav", persons["opav"]["password"])
    check(where == "/", f"opav signs in with its password (at {where} {alert})")
    check("opav" in page.eval("document.querySelector('.who').textContent"), "the header names the person")
    log_out(page, base)

    # The coordinator: password and one-time code; without the code it is asked for.
    where, alert = submit(page, "natc", persons["natc"]["password"])
    check(where == "/login" and alert != "", "natc without a one-time code is asked for it")
    code = totp(persons["natc"]["oneTimeCodeKey"])
    where, alert = submit(page, "natc", persons["natc"]["password"], code)
    check(where == "/", f"natc signs in with password and one-time code (at {where} {alert})")
    check(page.eval("!!document.querySelector('h1')"), "the coordinator's dashboard is shown")
    log_out(page, base)
    # The same code again is refused (a code is good once).
    where, alert = submit(page, "natc", persons["natc"]["password"], code)
    check(where == "/login" and alert != "", "a replayed one-time code is refused")
    # The auditor, with a fresh code.
    where, alert = submit(page, "audit", persons["audit"]["password"], totp(persons["audit"]["oneTimeCodeKey"]))
    check(where == "/", f"audit signs in with password and one-time code (at {where} {alert})")
    log_out(page, base)
    page.pump(1)
    expected = [e for e in console_errors if "status of 401" in e and e.endswith(base + "/login")][:3]
    check(len(expected) == 3, "the three refusals made on purpose answered 401")
    for entry in expected:
        console_errors.remove(entry)
