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
