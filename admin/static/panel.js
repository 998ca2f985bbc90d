// tokenbot admin panel: local times, live countdowns, and the live parts of each page.
// No inline script anywhere (CSP script-src 'self'); text is set with textContent, and live
// parts are our own server-rendered HTML, parsed inertly (DOMParser) and swapped in whole.
"use strict";

(function () {
  var offsetMs = 0; // server time minus browser time, so countdowns follow the server's clock

  // Exact to the second in the viewer's zone; the zone is named once per page (#time-zone)
  // and in each time's tooltip, so table cells stay short.
  var parts = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit" };
  var thisYear = new Intl.DateTimeFormat(undefined, parts);
  var otherYear = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric" }, parts));
  var withZone = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric",
    timeZoneName: "short" }, parts));
  var zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

  function localText(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    return (d.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(d);
  }

  function fullText(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : withZone.format(d) + " (" + iso + ")";
  }

  function localizeTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      el.textContent = localText(el.getAttribute("datetime"));
      el.title = fullText(el.getAttribute("datetime"));
    });
  }

  // The two largest units from the first non-zero one, trailing zeros left out: the same
  // text as tokenbot.core.durations.format_duration renders on the server.
  function duration(seconds) {
    if (seconds <= 0) { return "expired"; }
    var left = Math.floor(seconds), parts = [];
    [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]].forEach(function (unit) {
      var count = Math.floor(left / unit[0]);
      left -= count * unit[0];
      if (count || parts.length) { parts.push([count, unit[1]]); }
    });
    parts = parts.slice(0, 2);
    while (parts.length && parts[parts.length - 1][0] === 0) { parts.pop(); }
    return parts.map(function (p) { return p[0] + " " + p[1]; }).join(" ") || "0 s";
  }

  function tickCountdowns() {
    var now = Date.now() + offsetMs;
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var target = Date.parse(el.getAttribute("data-countdown"));
      if (!isNaN(target)) { el.textContent = duration((target - now) / 1000); }
    });
  }

  function noteServerTime(iso) {
    var server = Date.parse(iso);
    if (!isNaN(server)) { offsetMs = server - Date.now(); }
  }

  // Live parts: every [data-live-part] element is re-rendered by the server (the same Jinja
  // templates as the first page view: one rendering of a row) and swapped in whole, so new
  // accounts, the History table and the action buttons stay current. The poll never gives
  // up: it backs off while the server is unreachable, says so in the #stale banner, and
  // comes back to the normal pace on the first answer.
  var MAX_DELAY_MS = 30000;
  var REQUEST_TIMEOUT_MS = 10000;

  function swapLive(html) {
    // DOMParser builds an inert document: no script runs, nothing loads until adopted, and
    // the nodes come from our own origin's templates.
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var parts = fresh.querySelectorAll("[data-live-part]");
    if (!parts.length) { throw new Error("the answer was not this page"); }
    parts.forEach(function (part) {
      var old = part.id && document.getElementById(part.id);
      if (old) {
        var adopted = document.importNode(part, true);
        old.replaceWith(adopted);
        localizeTimes(adopted);
      }
    });
    var now = fresh.body && fresh.body.getAttribute("data-now");
    if (now) { noteServerTime(now); }
    tickCountdowns();
  }

  function startLive() {
    if (!document.querySelector("[data-live-part]")) { return; }
    var seconds = parseInt(document.body.getAttribute("data-poll-seconds"), 10) || 5;
    var base = Math.max(2, seconds) * 1000;
    var delay = base;
    var lastOk = Date.now();
    var failure = null;
    var timer = null;
    var running = false;
    var banner = document.getElementById("stale");
    var age = document.getElementById("stale-age");
    var why = document.getElementById("stale-why");

    function showState() {
      if (!banner) { return; }
      if (failure === null) {
        banner.hidden = true;
        return;
      }
      age.textContent = duration((Date.now() - lastOk) / 1000);
      why.textContent = failure ? " (" + failure + ")" : "";
      banner.hidden = false;
    }

    function schedule(ms) {
      window.clearTimeout(timer);
      timer = window.setTimeout(poll, ms);
    }

    function poll() {
      if (running) { return; }
      if (document.hidden) { schedule(base); return; }
      running = true;
      var controller = new AbortController();
      var watchdog = window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
      fetch(window.location.href, {
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual",
        headers: { "Accept": "text/html", "X-Live": "1" },
        signal: controller.signal
      }).then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          throw new Error("logged out: reload the page to log in");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      }).then(function (html) {
        swapLive(html);
        lastOk = Date.now();
        failure = null;
        delay = base;
      }).catch(function (error) {
        // fetch rejects with a TypeError when the server is down, AbortError on our timeout.
        var unreachable = !error || error.name === "TypeError" || error.name === "AbortError";
        failure = unreachable ? "cannot reach the server" : error.message;
        delay = Math.min(MAX_DELAY_MS, delay * 2);
      }).then(function () {
        window.clearTimeout(watchdog);
        running = false;
        showState();
        schedule(delay);
      });
    }

    window.setInterval(showState, 1000);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { schedule(0); }
    });
    window.addEventListener("online", function () { schedule(0); });
    schedule(base);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-now")) { noteServerTime(document.body.getAttribute("data-now")); }
    var zone = document.getElementById("time-zone");
    if (zone) {
      var offset = withZone.formatToParts(new Date()).filter(function (p) {
        return p.type === "timeZoneName";
      });
      zone.textContent = zoneName + (offset.length ? " (" + offset[0].value + ")" : "");
    }
    localizeTimes(document);
    tickCountdowns();
    window.setInterval(tickCountdowns, 1000);
    startLive();
  });
})();
