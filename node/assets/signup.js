// The sign-up page, made better with JavaScript: the organisationsnummer's check digit (Luhn
// over the first nine digits, as domain/orgnr.rs checks it on the server) as it is typed, the
// region the first location will live in as its position changes (the nearest region by
// great-circle distance, ties by name: geo's rule), and "use my position". Everything works
// without it: the server checks the number again, and "Show region" answers the region.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("signup");
  if (!form) return;
  var d = form.dataset;

  var org = document.getElementById("org-number"), check = document.getElementById("org-number-check");
  function luhnOk(digits) {
    var sum = 0;
    for (var i = 0; i < 9; i++) {
      var v = Number(digits[i]) * (i % 2 === 0 ? 2 : 1);
      sum += v > 9 ? v - 9 : v;
    }
    return (10 - (sum % 10)) % 10 === Number(digits[9]);
  }
  function checkOrg() {
    var raw = org.value.trim(), digits = raw.replace("-", "");
    var wellFormed = /^\d{10}$/.test(digits) && (raw.length === 10 || raw.indexOf("-") === 6);
    check.classList.remove("ok", "bad");
    if (raw === "") { check.textContent = ""; return; }
    if (!wellFormed) { check.textContent = d.orgIncomplete; return; }
    var ok = luhnOk(digits);
    check.textContent = ok ? d.orgOk : d.orgBad;
    check.classList.add(ok ? "ok" : "bad");
    org.setAttribute("aria-invalid", ok ? "false" : "true");
  }
  org.addEventListener("input", checkOrg);
  checkOrg();

  var regions = (d.regions || "").split(";").filter(Boolean).map(function (r) {
    var p = r.split(" ");
    return { name: p[0], lat: Number(p[1]), lon: Number(p[2]) };
  });
  var names = {};
  (d.regionNames || "").split(";").forEach(function (kv) { var p = kv.split("="); names[p[0]] = p[1]; });
  var lat = document.getElementById("lat"), lon = document.getElementById("lon"), out = document.getElementById("region");
  function rad(x) { return x * Math.PI / 180; }
  function km(a, b) {
    var h = Math.pow(Math.sin(rad(b.lat - a.lat) / 2), 2) + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.pow(Math.sin(rad(b.lon - a.lon) / 2), 2);
    return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
  }
  function num(s) { var v = Number(String(s).trim().replace(",", ".")); return String(s).trim() === "" || !isFinite(v) ? null : v; }
  function showRegion() {
    var p = { lat: num(lat.value), lon: num(lon.value) };
    if (p.lat === null || p.lon === null || Math.abs(p.lat) > 90 || Math.abs(p.lon) > 180 || regions.length === 0) {
      out.textContent = d.regionUnknown;
      return;
    }
    var best = regions.map(function (r) { return { r: r, km: km(p, r) }; })
      .sort(function (a, b) { return a.km - b.km || (a.r.name < b.r.name ? -1 : 1); })[0].r;
    out.textContent = names[best.name] || best.name;
  }
  lat.addEventListener("input", showRegion);
  lon.addEventListener("input", showRegion);
  showRegion();

  var use = document.getElementById("use-position");
  if (use && navigator.geolocation) {
    use.hidden = false;
    use.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(5);
        lon.value = pos.coords.longitude.toFixed(5);
        showRegion();
      }, function () { out.textContent = d.positionFailed; }, { timeout: 10000 });
    });
  }
});
