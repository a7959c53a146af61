// The customer's page, made a little better with JavaScript: a live character counter under the
// feedback text. Everything works without it (the form's minlength/maxlength and the server's
// checks stay the rules).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".counter[data-for]").forEach(function (out) {
    var field = document.getElementById(out.dataset.for);
    if (!field) return;
    var min = Number(out.dataset.min), max = Number(out.dataset.max), unit = out.dataset.unit || "";
    function update() {
      // Characters as the server counts them (code points), after trimming.
      var n = Array.from(field.value.trim()).length;
      out.textContent = n + " / " + max + " " + unit;
      out.classList.toggle("short", n < min || n > max);
    }
    out.hidden = false;
    field.addEventListener("input", update);
    update();
  });
});

// Waiting for the till: ask for the page in the background every `data-refresh-s` seconds and
// reload it only once it shows something else (the till answered, or the wait ended), instead of
// reloading under the customer's eyes (without JavaScript a <noscript> refresh does it).
document.addEventListener("DOMContentLoaded", function () {
  var waiting = document.querySelector(".waiting[data-refresh-s]");
  if (!waiting || !window.fetch) return;
  var every = 1000 * (Number(waiting.dataset.refreshS) || 3);
  function ask() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (html !== null && html.indexOf('class="waiting"') === -1) { window.location.reload(); return; }
        window.setTimeout(ask, every);
      })
      .catch(function () { window.setTimeout(ask, every); });
  }
  window.setTimeout(ask, every);
});
