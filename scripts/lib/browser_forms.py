"""Acting from the dashboard, in a real browser (called by scripts/browser-check's driver).

Covers: an institution acknowledging and accepting a referral from its inbox; the coordinator's
board updating live after that (the coordinator's page stays open in its own browser context);
the consent refusal and its override shown in the referral form; a form used by keyboard alone
(Tab, Enter and arrow keys sent with Input.dispatchKeyEvent); and an accessibility pass of every
page with Chromium's accessibility tree (every control named, one h1 and no skipped heading level).
Console errors are collected by the driver's Page class and fail the run there.

Python 3 standard library only. Synthetic data only: the cases are opened here through the API.
"""
import json
import os
import time
import urllib.error
import urllib.request

INTERACTIVE = {
    "button", "checkbox", "combobox", "link", "radio", "textbox", "spinbutton", "listbox", "searchbox",
    "slider", "switch", "menuitem", "tab", "DisclosureTriangle", "PopUpButton",
}


def api(base, token, method, path, body=None):
    """One API call; returns (status, JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_context(Page, WebSocket, devtools_port):
    """A tab in a browser context of its own (its own cookies, so its own session)."""
    version = json.load(urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json/version", timeout=10))
    browser = Page(WebSocket(version["webSocketDebuggerUrl"]))
    context = browser.call("Target.createBrowserContext")["browserContextId"]
    target = browser.call("Target.createTarget", url="about:blank", browserContextId=context)["targetId"]
    page = Page(WebSocket(f"ws://127.0.0.1:{devtools_port}/devtools/page/{target}"))
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.call(f"{domain}.enable")
    page.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": "en"})
    return browser, context, page


def sign_in(page, base, token):
    page.navigate(base + "/login?with=token")  # the token form (persons sign in with a password at /login)
    page.events.clear()
    page.eval("document.getElementById('token').value = %s; document.querySelector('form[action=\"/login\"]').requestSubmit(); true"
              % json.dumps(token))
    page.wait_for("Page.loadEventFired")


def submit(page, form_expression):
    """Submits a form as its button would, and waits for the answer's page."""
    page.events.clear()
    page.eval("(%s).requestSubmit(); true" % form_expression)
    page.wait_for("Page.loadEventFired")


def key(page, name, code=None, vk=0, text=None):
    params = {"type": "keyDown", "key": name, "code": code or name, "windowsVirtualKeyCode": vk,
              "nativeVirtualKeyCode": vk}
    if text:
        params["text"] = text
    page.call("Input.dispatchKeyEvent", **params)
    page.call("Input.dispatchKeyEvent", type="keyUp", key=name, code=code or name, windowsVirtualKeyCode=vk,
              nativeVirtualKeyCode=vk)


def tab(page):
    key(page, "Tab", vk=9)


def enter(page):
    key(page, "Enter", vk=13, text="\r")


def accessibility_pass(page, name, check):
    """Every control in the accessibility tree has a name; headings start at one h1 and never
    skip a level."""
    page.call("Accessibility.enable")
    nodes = page.call("Accessibility.getFullAXTree")["nodes"]
    unnamed = []
    for node in nodes:
        if node.get("ignored"):
            continue
        role = node.get("role", {}).get("value", "")
        label = (node.get("name") or {}).get("value", "")
        if role in INTERACTIVE and not str(label).strip():
            unnamed.append(role)
    controls = sum(1 for n in nodes if not n.get("ignored") and n.get("role", {}).get("value") in INTERACTIVE)
    check(not unnamed, f"a11y {name}: every one of {controls} controls has a name (unnamed: {unnamed[:5]})")
    levels = page.eval("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]"
                       ".filter(h => h.getClientRects().length > 0).map(h => +h.tagName[1])")
    skipped = [f"h{a}→h{b}" for a, b in zip(levels, levels[1:]) if b > a + 1]
    check(levels[:1] == [1] and levels.count(1) == 1 and not skipped,
          f"a11y {name}: headings in order ({''.join(str(n) for n in levels)})")
    check(page.eval("document.documentElement.lang.length > 1"), f"a11y {name}: <html lang> is set")


def answered(console_errors, status, path, check, what):
    """The browser logged this page's status (Chromium logs every 4xx document as a failed load):
    it proves the status, and is an expected answer, not a console error."""
    for entry in console_errors:
        if f"status of {status} " in entry and entry.split()[-1].endswith(path):
            console_errors.remove(entry)
            check(True, f"{what}: HTTP {status}")
            return
    check(False, f"{what}: HTTP {status} (no such answer seen)")


def run(page, Page, WebSocket, devtools_port, base, tokens, check, out, console_errors):
    """`page` is the coordinator's tab, signed in and showing the board in English;
    `console_errors` the driver's list of browser console errors."""
    coordinator = page
    browser, context, inst = new_context(Page, WebSocket, devtools_port)
    try:
        _run(coordinator, inst, base, tokens, check, out, console_errors)
    finally:
        try:
            browser.call("Target.disposeBrowserContext", browserContextId=context)
        except Exception as error:  # the run's own failures matter more
            print(f"     (closing the browser context: {error})")


def _run(coordinator, inst, base, tokens, check, out, console_errors):
    # A case of the police with an urgent victim-advocacy referral to the advocates (opav).
    status, opened = api(base, tokens["kp-dthb"], "POST", "/v1/cases", {
        "identificationStatus": "presumed", "profile": {"sex": "female", "ageBand": "18-24", "child": False,
                                                        "nationality": "XK", "exploitation": ["forced-labour"]}})
    check(status == 201, f"forms: a synthetic case was opened through the API ({status})")
    case = opened["caseId"]
    status, _ = api(base, tokens["kp-dthb"], "POST", f"/v1/cases/{case}/events", {
        "type": "ReferralIssued", "data": {"referralId": "R-1", "to": "opav", "purpose": "victim-advocacy",
                                           "urgency": "urgent"}})
    check(status == 201, f"forms: a referral to opav was issued on {case} ({status})")
    row = "(() => { const a = document.querySelector('#deadlines-region a[href=\"/cases/%s\"]'); " \
          "return a ? a.closest('tr').className : ''; })()" % case

    # The coordinator's board, filtered to the acknowledgement deadlines of the advocates.
    board = base + "/?status=all&rule=referral-acknowledged&institution=opav&sort=case&dir=desc"
    for _ in range(20):
        coordinator.navigate(board)
        if coordinator.eval(row):
            break
        coordinator.pump(1)
    check(coordinator.eval(row) not in ("", "met"), f"forms: the board lists {case}'s acknowledgement as not met ({coordinator.eval(row)!r})")
    check(coordinator.until("document.getElementById('live-status').textContent.indexOf('Live: connected') === 0"),
          "forms: the coordinator's board is live")

    # (1) The advocates acknowledge, then accept, from their inbox.
    sign_in(inst, base, tokens["opav"])
    step = "document.querySelector('#inbox-region form[action=\"/cases/%s/events\"] input[name=type][value=%s]')"
    for _ in range(20):
        inst.navigate(base + "/")
        if inst.eval("!!" + step % (case, "ReferralAcknowledged")):
            break
        inst.pump(1)
    check(inst.eval("!!" + step % (case, "ReferralAcknowledged")), "forms: the inbox offers Acknowledge receipt")
    accessibility_pass(inst, "institution home (inbox, open-case form)", check)
    submit(inst, (step % (case, "ReferralAcknowledged")) + ".form")
    check(inst.eval("location.pathname") == f"/cases/{case}", "forms: acknowledging leads to the case page (303)")
    check(inst.eval("[...document.querySelectorAll('table.timeline code')].some(c => c.textContent === 'ReferralAcknowledged')"),
          "forms: the timeline shows ReferralAcknowledged")
    for _ in range(20):
        inst.navigate(base + "/")
        if inst.eval("!!%s && !%s" % (step % (case, "ReferralAccepted"), step % (case, "ReferralAcknowledged"))):
            break
        inst.pump(1)
    check(inst.eval("!!" + step % (case, "ReferralAccepted")), "forms: the inbox then offers Accept")
    submit(inst, (step % (case, "ReferralAccepted")) + ".form")
    check(inst.eval("[...document.querySelectorAll('table.timeline code')].some(c => c.textContent === 'ReferralAccepted')"),
          "forms: accepting is recorded (timeline)")

    # (2) The coordinator's board followed, without a reload.
    check(coordinator.until(row + " === 'met'", timeout=30), f"forms: the board shows {case}'s acknowledgement met, live")
    check(coordinator.eval("document.getElementById('live-status').textContent.indexOf('Live: updated') === 0"),
          "forms: the board says it was updated live")

    # (3) The consent refusal and its override, in the referral form.
    inst.navigate(base + f"/cases/{case}")
    accessibility_pass(inst, "institution case page (forms closed)", check)
    inst.eval("document.querySelectorAll('details.act').forEach(d => d.open = true); true")
    accessibility_pass(inst, "institution case page (every form open)", check)
    inst.eval("document.getElementById('f-ReferralIssued-to').value = 'isf';"
              "document.getElementById('f-ReferralIssued-purpose').value = 'shelter'; true")
    check(inst.eval("document.querySelector('#form-ReferralIssued [data-override-reason]').hidden === true"),
          "forms: the override's reason is hidden while its box is unticked (script)")
    submit(inst, "document.querySelector('#form-ReferralIssued form')")
    inst.pump(0.5)
    answered(console_errors, 422, f"/cases/{case}/events", check, "forms: the consent refusal")
    check(inst.eval("document.getElementById('form-ReferralIssued').open"), "forms: the refused referral form is shown open")
    error = inst.eval("(document.getElementById('e-ReferralIssued-consentOverride') || {}).textContent || ''")
    check("needs the victim's recorded consent" in error, f"forms: the consent refusal is shown beside the override ({error[:60]!r})")
    check(inst.eval("document.getElementById('f-ReferralIssued-to').value") == "isf", "forms: the form keeps what was chosen")
    accessibility_pass(inst, "case page with the consent refusal", check)
    inst.pump(0.5)
    inst.screenshot("dashboard-forms.png", 1366, 1600)
    inst.call("Emulation.setDeviceMetricsOverride", width=1366, height=900, deviceScaleFactor=1, mobile=False)
    inst.eval("document.getElementById('f-ReferralIssued-consentOverride').click(); true")
    check(inst.eval("document.querySelector('#form-ReferralIssued [data-override-reason]').hidden === false"),
          "forms: ticking the override shows its reason")
    inst.eval("document.getElementById('f-ReferralIssued-consentOverrideReason').value = 'imminent-danger'; true")
    submit(inst, "document.querySelector('#form-ReferralIssued form')")
    check(inst.eval("location.pathname") == f"/cases/{case}" and not inst.eval("!!document.querySelector('.problem')"),
          "forms: with the override the referral is recorded")
    check(inst.eval("document.getElementById('handoffs-wrap').textContent.indexOf('override') >= 0"),
          "forms: the handoff shows the override")

    # (4) Keyboard only: Tab to "Record a risk assessment", Enter, arrow to a level, Tab to the
    # button, Enter.
    inst.navigate(base + f"/cases/{case}")
    inst.eval("document.activeElement && document.activeElement.blur(); true")
    summary = "document.querySelector('#form-RiskAssessed > summary')"
    presses = 0
    while presses < 400 and not inst.eval(f"document.activeElement === {summary}"):
        tab(inst)
        presses += 1
    check(inst.eval(f"document.activeElement === {summary}"), f"keyboard: Tab reaches the risk form ({presses} presses)")
    enter(inst)
    check(inst.until("document.getElementById('form-RiskAssessed').open", timeout=5), "keyboard: Enter opens the form")
    tab(inst)
    check(inst.eval("document.activeElement.id") == "f-RiskAssessed-level", "keyboard: Tab moves to the level")
    key(inst, "ArrowDown", vk=40)
    key(inst, "ArrowDown", vk=40)
    level = inst.eval("document.getElementById('f-RiskAssessed-level').value")
    check(level in ("low", "medium", "high"), f"keyboard: the arrow keys choose a level ({level!r})")
    presses = 0
    button = "document.querySelector('#form-RiskAssessed button[type=submit]')"
    while presses < 20 and not inst.eval(f"document.activeElement === {button}"):
        tab(inst)
        presses += 1
    check(inst.eval(f"document.activeElement === {button}"), "keyboard: Tab reaches the Record button")
    inst.events.clear()
    enter(inst)
    inst.wait_for("Page.loadEventFired")
    check(inst.eval("[...document.querySelectorAll('table.timeline code')].some(c => c.textContent === 'RiskAssessed')"),
          "keyboard: the risk assessment is recorded")

    # What another institution records meanwhile does not stop a form; a change to what the form is
    # about (the case closed) is reported, not overwritten; a form without its token is refused.
    events = f"/v1/cases/{case}/events"
    inst.navigate(base + f"/cases/{case}")
    status, _ = api(base, tokens["kp-dthb"], "POST", events, {"type": "CaseReviewed", "data": {}})
    check(status == 201, "forms: another institution records a review meanwhile")
    submit(inst, "document.querySelector('#form-CaseReviewed form')")
    check(inst.eval("location.pathname") == f"/cases/{case}" and not inst.eval("!!document.getElementById('conflict')"),
          "forms: a form goes through though another institution recorded something else meanwhile")
    inst.navigate(base + f"/cases/{case}")
    status, _ = api(base, tokens["kp-dthb"], "POST", events, {"type": "CaseClosed", "data": {"reason": "duplicate"}})
    check(status == 201, "forms: the opener closes the case meanwhile")
    submit(inst, "document.querySelector('#form-CaseReviewed form')")
    check(inst.eval("!!document.getElementById('conflict') && !!document.getElementById('reload')"),
          "forms: a form whose case was closed meanwhile gets the conflict page with a link to reload")
    inst.pump(0.5)
    answered(console_errors, 409, f"/cases/{case}/events", check, "forms: the conflict page")
    accessibility_pass(inst, "conflict page", check)
    status, _ = api(base, tokens["kp-dthb"], "POST", events,
                    {"type": "CaseReopened", "data": {"reason": "victim-returned"}})
    check(status == 201, "forms: the opener reopens the case")
    inst.navigate(base + f"/cases/{case}")
    inst.eval("document.querySelector('#form-CaseReviewed input[name=csrf]').value = 'forged'; true")
    submit(inst, "document.querySelector('#form-CaseReviewed form')")
    check(inst.eval("!!document.getElementById('csrf-refused')"), "forms: a form without its CSRF token is refused")
    inst.pump(0.5)
    answered(console_errors, 403, f"/cases/{case}/events", check, "forms: the refused form")
    accessibility_pass(inst, "refused-form page", check)
    inst.navigate(base + "/cases/KS-NOPE-1")
    inst.pump(0.5)
    answered(console_errors, 404, "/cases/KS-NOPE-1", check, "forms: a missing case")
    accessibility_pass(inst, "not-found page", check)

    # (5) The accessibility pass over the other pages, as the coordinator and the auditor see them.
    coordinator.navigate(base + "/")
    accessibility_pass(coordinator, "coordinator board", check)
    coordinator.navigate(base + f"/cases/{case}")
    accessibility_pass(coordinator, "coordinator case page", check)
    check(not coordinator.eval("!!document.querySelector('form[action$=\"/events\"]')"),
          "forms: the coordinator is offered no case forms")
    coordinator.navigate(base + "/reports/annual?year=" + time.strftime("%Y"))
    accessibility_pass(coordinator, "annual report", check)
    sign_in(inst, base, tokens["audit"])
    accessibility_pass(inst, "auditor board", check)
    inst.navigate(base + f"/cases/{case}")
    accessibility_pass(inst, "auditor case page", check)
    inst.navigate(base + "/login")
    accessibility_pass(inst, "login page", check)
    coordinator.navigate(base + "/")
