// The operator console: polls /ops/console.json every `data-refresh-s` seconds (the server's
// REFRESH_S, on <body>) and updates the map and the tables in place. Without this script the page
// reloads itself at the same period (<noscript> meta refresh).
(function () {
  "use strict";
  var REFRESH_MS = 1000 * (Number(document.body.dataset.refreshS) || 2);
  var live = document.getElementById("live");

  function text(el, value) {
    if (el && el.textContent !== value) { el.textContent = value; }
  }
  function counts(c) {
    var parts = [];
    Object.keys(c || {}).forEach(function (k) { if (c[k] > 0) { parts.push(k + " " + c[k]); } });
    return parts.length ? parts.join(", ") : "none";
  }
  function role(n) {
    var r = n.leader ? "leader (" + n.role + ")" : n.role;
    return n.draining ? r + ", draining" : r;
  }
  // The same words as the server's (console/view.rs: uptime, bytes, errors).
  function uptime(s) {
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) { return d + " d " + h + " h"; }
    if (h > 0) { return h + " h " + m + " min"; }
    return m > 0 ? m + " min" : s + " s";
  }
  function bytes(b) {
    if (b === null) { return "unreadable"; }
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = b, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
    return u === 0 ? b + " B" : v.toFixed(1) + " " + units[u];
  }
  function errors(f) {
    if (f.errors_last_minute === 0) { return "0 of " + f.answers_last_minute; }
    var pct = f.errors_last_minute * 100 / Math.max(1, f.answers_last_minute);
    return f.errors_last_minute + " of " + f.answers_last_minute + " (" + pct.toFixed(1) + " %)";
  }
  function facts(row, f) {
    text(row.querySelector(".uptime"), f ? uptime(f.uptime_s) : "no answer");
    text(row.querySelector(".disk"), f ? bytes(f.disk_bytes) : "no answer");
    text(row.querySelector(".errors"), f ? errors(f) : "no answer");
    text(row.querySelector(".view"), f ? f.term + " · " + (f.leader === null ? "none" : "#" + f.leader) : "no answer");
  }
  function setHealth(el, health) {
    if (!el) { return; }
    el.setAttribute("data-health", health);
    if (el.classList.contains("region")) {
      el.classList.remove("up", "down");
      el.classList.add(health);
    }
  }
  function apply(v) {
    var rows = document.querySelectorAll("#nodes tbody tr");
    var ids = v.nodes.map(function (n) { return "node-" + n.id; }).sort().join(",");
    var shown = Array.prototype.map.call(rows, function (r) { return r.id; }).sort().join(",");
    if (ids !== shown) { window.location.reload(); return; } // membership changed: new rows
    text(document.getElementById("term"), String(v.term));
    text(document.getElementById("leader"), v.leader === null ? "none" : String(v.leader));
    v.regions.forEach(function (r) {
      setHealth(document.getElementById("region-" + r.name), r.health);
      var row = document.getElementById("region-row-" + r.name);
      setHealth(row, r.health);
      if (row) {
        text(row.querySelector(".health"), r.health);
        text(row.querySelector(".routed"), String(r.routed_last_minute));
      }
    });
    v.nodes.forEach(function (n) {
      var row = document.getElementById("node-" + n.id);
      setHealth(row, n.health);
      text(row.querySelector(".health"), n.health);
      text(row.querySelector(".role"), role(n));
      text(row.querySelector(".lag"), n.lag === null ? "unknown" : String(n.lag));
      text(row.querySelector(".actors"), counts(n.actors));
      text(row.querySelector(".routed"), n.routed_last_minute === null ? "no answer" : counts(n.routed_last_minute));
      facts(row, n.facts);
    });
    text(live, "live, updated " + new Date().toLocaleTimeString());
  }
  function poll() {
    fetch("/ops/console.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (res.status === 401) { window.location.assign("/ops"); return null; }
        return res.ok ? res.json() : null;
      })
      .then(function (v) { if (v) { apply(v); } else { text(live, "not updated (the node did not answer)"); } })
      .catch(function () { text(live, "not updated (the node did not answer)"); })
      .then(function () { window.setTimeout(poll, REFRESH_MS); });
  }
  if (document.getElementById("nodes")) { window.setTimeout(poll, REFRESH_MS); }
}());
