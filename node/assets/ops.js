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
