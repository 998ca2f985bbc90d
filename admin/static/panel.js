// tokenbot admin panel: local times, live countdowns, and status polling.
// No inline script anywhere (CSP script-src 'self'); DOM updates use textContent only.
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

  function setTime(container, iso, empty) {
    if (!container) { return; }
    container.textContent = "";
    if (iso) {
      var t = document.createElement("time");
      t.setAttribute("datetime", iso);
      t.setAttribute("data-local", "");
      t.textContent = localText(iso);
      t.title = fullText(iso);
      container.appendChild(t);
    } else {
      var span = document.createElement("span");
      span.className = "muted";
      span.textContent = empty;
      container.appendChild(span);
    }
  }

  function setToken(container, token) {
    if (!container || !token) { return; }
    if (!token.expires_at) {
      // The grant was wiped (needs re-login, disconnected): no countdown any more.
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none";
      container.replaceChildren(none);
      return;
    }
    var meter = container.querySelector("meter");
    if (meter) {
      var value = token.fraction_left;
      if (value === null || value === undefined) { value = token.seconds_left > 0 ? 1 : 0; }
      meter.value = value;
    }
    var left = container.querySelector("[data-countdown]");
    if (left) { left.setAttribute("data-countdown", token.expires_at); }
    var exact = container.querySelector(".exact time");
    if (exact) {
      exact.setAttribute("datetime", token.expires_at);
      exact.textContent = localText(token.expires_at);
    }
  }

  function updateAccount(el, a) {
    Array.prototype.slice.call(el.classList).forEach(function (name) {
      if (name.indexOf("health-") === 0) { el.classList.remove(name); }
    });
    el.classList.add("health-" + a.health);
    var badge = el.querySelector('[data-field="health"]');
    if (badge) {
      badge.className = "badge badge-" + a.health;
      badge.textContent = a.health_label;
    }
    setToken(el.querySelector('[data-token="access"]'), a.access_token);
    setToken(el.querySelector('[data-token="refresh"]'), a.refresh_token);
    setTime(el.querySelector('[data-field="last_refreshed_at"]'), a.last_refreshed_at, "never");
    setTime(el.querySelector('[data-field="next_refresh_at"]'), a.next_refresh_at, "—");
    var failures = el.querySelector('[data-field="failure_count"]');
    if (failures) {
      failures.textContent = String(a.failure_count);
      failures.className = a.failure_count ? "warn" : "";
    }
    var error = el.querySelector('[data-field="last_error"]');
    if (error) { error.textContent = a.last_error || ""; }
  }

  function updateStatus(body) {
    var counts = (body.accounts && body.accounts.by_health) || {};
    document.querySelectorAll("[data-count]").forEach(function (el) {
      el.textContent = String(counts[el.getAttribute("data-count")] || 0);
    });
    var bot = body.bot || {};
    var field = function (name) { return document.querySelector('[data-bot="' + name + '"]'); };
    if (field("intake_mode")) { field("intake_mode").textContent = bot.intake_mode; }
    if (field("webhook_registered")) {
      field("webhook_registered").textContent = bot.webhook_registered ? "registered" : "not registered";
    }
    if (field("commands_handled")) { field("commands_handled").textContent = String(bot.commands_handled); }
    if (field("errors")) { field("errors").textContent = String(bot.errors); }
    setTime(field("last_event_at"), bot.last_event_at, "never");
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { throw new Error("logged out"); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function noteServerTime(iso) {
    var server = Date.parse(iso);
    if (!isNaN(server)) { offsetMs = server - Date.now(); }
  }

  function startPolling(el) {
    var url = el.getAttribute("data-poll");
    var statusUrl = el.getAttribute("data-status");
    var interval = Math.max(2, parseInt(el.getAttribute("data-interval"), 10) || 5) * 1000;
    var stopped = false;
    function poll() {
      if (stopped || document.hidden) { return; }
      fetchJson(url).then(function (body) {
        noteServerTime(body.now);
        var list = body.accounts || (body.account ? [body.account] : []);
        list.forEach(function (a) {
          var row = el.id === "account" ? el : el.querySelector('[data-account-id="' + a.id + '"]');
          if (row) { updateAccount(row, a); }
        });
        var stamp = document.getElementById("updated-at");
        if (stamp) {
          stamp.setAttribute("datetime", body.now);
          stamp.textContent = localText(body.now);
        }
        tickCountdowns();
      }).catch(function () { stopped = true; });
      if (statusUrl) { fetchJson(statusUrl).then(updateStatus).catch(function () {}); }
    }
    window.setInterval(poll, interval);
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
    document.querySelectorAll("[data-poll]").forEach(startPolling);
  });
})();
