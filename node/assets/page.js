// The customer's page, made a little better with JavaScript: a live character counter under the
// feedback text. Everything works without it (the form's minlength/maxlength and the server's
// checks stay the rules). The counter is neutral while the customer writes; only a submit with
// too short a text marks it, with the problem in words (data-short), until the text is long
// enough.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".counter[data-for]").forEach(function (out) {
    var field = document.getElementById(out.dataset.for);
    if (!field) return;
    var min = Number(out.dataset.min), max = Number(out.dataset.max), unit = out.dataset.unit || "";
    var maxText = out.dataset.maxText || String(max), shortText = out.dataset.short || "";
    var tried = false;
    function count() {
      // Characters as the server counts them (code points), after trimming.
      return Array.from(field.value.trim()).length;
    }
    function update() {
      var n = count(), wrong = tried && (n < min || n > max);
      out.textContent = n + " / " + maxText + " " + unit + (wrong && shortText ? " · " + shortText : "");
      out.classList.toggle("short", wrong);
    }
    function attempt(event) {
      var n = count();
      if (n < min || n > max) {
        tried = true;
        // The counter says it in the page's language (aria-live), in place of the browser's
        // own bubble (the browser's language, over the button); the submit waits.
        if (event) event.preventDefault();
        update();
        field.focus();
      }
    }
    out.hidden = false;
    field.addEventListener("input", update);
    field.addEventListener("invalid", attempt);
    if (field.form) field.form.addEventListener("submit", attempt);
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
