import HTTP

/// The dashboard's stylesheet, script and icon, compiled into the binary (no build step, no
/// files to install, nothing from another origin). Served as files so the pages need no inline
/// code and the CSP can forbid it.
enum DashboardAssets {
    static func response(_ text: String, type: String) -> HTTPResponse {
        HTTPResponse(
            status: .ok,
            headers: [
                "Content-Type": type + "; charset=utf-8", "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
            ], bytes: Array(text.utf8))
    }

    static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d4e89"/>\
        <path d="M8 17h10l-4-4m4 4-4 4M24 9v14" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round" \
        stroke-linejoin="round"/></svg>
        """

    /// The request header the live refresh sends (``script``): the page is served, but the
    /// session's idle time is not renewed by it (only the person's own requests renew it).
    static let liveRefreshHeader = "Handoff-Live-Refresh"

    /// Refreshes the page's live regions when `/dashboard/live` reports a change: the page is
    /// fetched again (with the session cookie and ``liveRefreshHeader``) and each
    /// `data-live-region` is replaced by its new version. Errors are shown in the status line,
    /// never thrown to the console.
    static let script = #"""
        "use strict";
        (function () {
          var live = document.body && document.body.getAttribute("data-live-url");
          var status = document.getElementById("live-status");
          function say(text) { if (status) { status.textContent = text; } }
          // The messages come in the page's language from the status line's data-msg-* attributes.
          function message(name) { return (status && status.getAttribute("data-msg-" + name)) || ""; }
          if (!live) { return; }
          if (!window.EventSource || !window.fetch || !window.DOMParser) {
            say(message("old-browser"));
            return;
          }
          var timer = null;
          var running = false;
          var again = false;
          function refresh() {
            if (running) { again = true; return; }
            running = true;
            fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html", "\#(liveRefreshHeader)": "1" } })
              .then(function (response) {
                if (response.redirected || response.status === 401) {
                  window.location.assign("/login");
                  return null;
                }
                if (!response.ok) { throw new Error("HTTP " + response.status); }
                return response.text();
              })
              .then(function (html) {
                if (html === null) { return; }
                var fresh = new DOMParser().parseFromString(html, "text/html");
                var regions = document.querySelectorAll("[data-live-region]");
                for (var i = 0; i < regions.length; i++) {
                  var old = regions[i];
                  var next = fresh.getElementById(old.id);
                  if (next && next.innerHTML !== old.innerHTML && !old.contains(document.activeElement)) {
                    old.replaceWith(document.importNode(next, true));
                  }
                }
                say(message("updated").replace("{time}",
                  new Date().toLocaleTimeString(document.documentElement.lang || undefined)));
              })
              .catch(function () { say(message("failed")); })
              .then(function () {
                running = false;
                if (again) { again = false; schedule(500); }
              });
          }
          function schedule(delay) {
            if (timer !== null) { clearTimeout(timer); }
            timer = setTimeout(function () { timer = null; refresh(); }, delay);
          }
          var source = new EventSource(live);
          source.addEventListener("open", function () { say(message("connected")); });
          source.addEventListener("change", function () {
            // The read models follow the log within a moment: read once soon, once more a bit later.
            schedule(800);
            setTimeout(refresh, 4000);
          });
          source.addEventListener("error", function () { say(message("reconnecting")); });
          // Deadlines also become due or overdue as time passes, without any event.
          setInterval(refresh, 60000);
        })();
        // A referral form's consent override: its reason is shown only while the box is ticked.
        // Without this script both are shown, and the server reads the reason only with the box.
        (function () {
          var groups = document.querySelectorAll("[data-override]");
          Array.prototype.forEach.call(groups, function (group) {
            var flag = group.querySelector("[data-override-flag]");
            var reason = group.querySelector("[data-override-reason]");
            if (!flag || !reason) { return; }
            function sync() { reason.hidden = !flag.checked; }
            flag.addEventListener("change", sync);
            sync();
          });
        })();
        """#

    static let css = """
        :root {
          --ink: #1a1f24; --muted: #4a5560; --line: #c9d1d9; --bg: #ffffff; --panel: #f4f6f8;
          --accent: #1d4e89; --focus: #b35900;
          --overdue-bg: #fbe4e4; --overdue-ink: #8a1111; --soon-bg: #fff1cc; --soon-ink: #6b4a00;
          --ok-bg: #e2f3e6; --ok-ink: #1d5e2c; --neutral-bg: #e8ecf0; --neutral-ink: #33404d;
        }
        * { box-sizing: border-box; }
        html { font-size: 100%; }
        body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
          color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        a:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible, summary:focus-visible,
        .table-wrap:focus-visible, main:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
        [hidden] { display: none !important; }
        .skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem 1rem; }
        .skip:focus { left: .5rem; z-index: 10; }
        .bar { display: flex; flex-wrap: wrap; align-items: center; gap: .75rem 1.25rem; padding: .6rem 1.5rem;
          background: var(--accent); color: #fff; }
        .bar a.brand { color: #fff; font-weight: 700; font-size: 1.15rem; text-decoration: none; }
        .bar .synthetic { font-size: .8rem; border: 1px solid #fff; border-radius: 1rem; padding: 0 .6rem; }
        .bar .who { margin-left: auto; display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
        .bar form { margin: 0; }
        .bar button { background: #fff; color: var(--accent); border: 0; }
        .bar .languages ul { display: flex; flex-wrap: wrap; gap: .25rem .75rem; list-style: none; margin: 0; padding: 0; }
        .bar .languages a { color: #fff; font-size: .9rem; }
        .bar .languages a[aria-current] { font-weight: 700; text-decoration: none; }
        .note { margin: .5rem 1.5rem 0; font-size: .85rem; color: #444; }
        main { padding: 1rem 1.5rem 3rem; max-width: 90rem; margin: 0 auto; }
        h1 { font-size: 1.6rem; margin: .5rem 0 .25rem; }
        h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; }
        .lede { color: var(--muted); margin-top: 0; }
        .live-status { font-size: .9rem; color: var(--muted); margin: .25rem 0 1rem; }
        .tiles { display: flex; flex-wrap: wrap; gap: 1rem; align-items: stretch; }
        .tile { display: block; min-width: 11rem; padding: .75rem 1rem; border-radius: .5rem; text-decoration: none;
          font-weight: 600; border: 1px solid var(--line); }
        .tile .n { display: block; font-size: 2rem; line-height: 1.1; }
        .tile.overdue { background: var(--overdue-bg); color: var(--overdue-ink); }
        .tile.due-soon { background: var(--soon-bg); color: var(--soon-ink); }
        .tiles .updated { align-self: flex-end; color: var(--muted); font-size: .9rem; margin: 0; }
        button { font: inherit; padding: .4rem .9rem; border-radius: .35rem; border: 1px solid var(--accent);
          background: var(--accent); color: #fff; cursor: pointer; }
        select, input { font: inherit; padding: .35rem .5rem; border: 1px solid #6b7682; border-radius: .35rem;
          background: #fff; color: var(--ink); max-width: 100%; }
        .filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-end; padding: .75rem 1rem;
          background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; margin-bottom: .75rem; }
        .field { display: flex; flex-direction: column; gap: .2rem; }
        .field label { font-weight: 600; font-size: .9rem; }
        .field.actions { flex-direction: row; align-items: center; gap: .75rem; }
        .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: .5rem; }
        #deadlines-wrap, #access-wrap { max-height: 34rem; overflow-y: auto; }
        #deadlines-wrap thead th, #access-wrap thead th { position: sticky; top: 0; z-index: 1; }
        time, tbody th a { white-space: nowrap; }
        table { border-collapse: collapse; width: 100%; font-size: .95rem; }
        caption { text-align: left; padding: .5rem .75rem; color: var(--muted); font-size: .9rem; caption-side: top; }
        th, td { text-align: left; padding: .45rem .75rem; border-top: 1px solid var(--line); vertical-align: top; }
        thead th { background: var(--panel); font-size: .9rem; white-space: nowrap; }
        thead th a { color: var(--ink); }
        tbody th { font-weight: 600; }
        table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
        td.warn { color: var(--overdue-ink); font-weight: 700; }
        td.empty { text-align: center; color: var(--muted); padding: 1rem; }
        .sub { display: block; font-size: .82rem; color: var(--muted); font-weight: 400; }
        .badge { display: inline-block; padding: .05rem .55rem; border-radius: 1rem; font-size: .85rem; font-weight: 600;
          white-space: nowrap; background: var(--neutral-bg); color: var(--neutral-ink); }
        .badge.overdue { background: var(--overdue-bg); color: var(--overdue-ink); }
        .badge.due-soon { background: var(--soon-bg); color: var(--soon-ink); }
        .badge.met { background: var(--ok-bg); color: var(--ok-ink); }
        .urgency.urgent, .urgency.immediate { color: var(--overdue-ink); font-weight: 700; }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 46rem), 1fr)); gap: 0 1.5rem; }
        .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .5rem 1.5rem;
          padding: .75rem 1rem; background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; }
        .facts dt { font-size: .85rem; color: var(--muted); }
        .facts dd { margin: 0; font-weight: 600; }
        .chain { padding: .6rem .9rem; border-radius: .5rem; }
        .chain.valid { background: var(--ok-bg); color: var(--ok-ink); }
        .chain.broken { background: var(--overdue-bg); color: var(--overdue-ink); }
        .crumbs { margin: .25rem 0 0; font-size: .9rem; }
        code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .88em; }
        .login { max-width: 32rem; margin: 3rem auto; }
        .login form { display: flex; flex-direction: column; gap: 1rem; }
        .login input { width: 100%; }
        .problem { background: var(--overdue-bg); color: var(--overdue-ink); padding: .6rem .9rem; border-radius: .5rem; }
        .acts h3 { font-size: 1.02rem; margin: 1.25rem 0 .4rem; }
        details.act { border: 1px solid var(--line); border-radius: .5rem; margin: .4rem 0; background: var(--bg); }
        details.act > summary { cursor: pointer; padding: .5rem .9rem; font-weight: 600; color: var(--accent);
          background: var(--panel); border-radius: .5rem; }
        details.act[open] > summary { border-bottom: 1px solid var(--line); border-radius: .5rem .5rem 0 0; }
        .act-form { display: flex; flex-direction: column; gap: .8rem; padding: .75rem .9rem 1rem; max-width: 48rem; }
        fieldset.group { border: 1px solid var(--line); border-radius: .35rem; padding: .4rem .75rem .6rem; margin: 0; }
        fieldset.group legend { font-weight: 600; font-size: .9rem; padding: 0 .25rem; }
        .options { display: flex; flex-wrap: wrap; gap: .3rem 1.1rem; }
        .option, .check { display: inline-flex; align-items: center; gap: .4rem; }
        .field.check { flex-direction: row; align-items: center; gap: .4rem; }
        .field.check label, .option label, .check label { font-weight: 400; }
        .hint { font-size: .85rem; color: var(--muted); margin: 0; }
        .field-error { color: var(--overdue-ink); font-weight: 600; margin: .2rem 0 0; }
        [aria-invalid="true"] { border-color: var(--overdue-ink); box-shadow: 0 0 0 2px var(--overdue-bg); }
        form.inline { display: inline; margin: 0; }
        .inline-actions { display: flex; flex-wrap: wrap; gap: .35rem .6rem; align-items: center; }
        .inline-actions button { padding: .2rem .6rem; font-size: .9rem; }
        .vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        @media (max-width: 48rem) {
          main { padding: .75rem .75rem 2rem; }
          .bar { padding: .5rem .75rem; }
          .bar .who { margin-left: 0; }
          th, td { padding: .4rem .5rem; }
          .filters { flex-direction: column; align-items: stretch; }
        }
        """
}
