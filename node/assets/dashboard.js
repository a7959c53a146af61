// The business dashboard, made a little better with JavaScript: forms marked with data-confirm
// ask first (rotating the API key cuts off the old one), and the Square-only field shows only
// for Square. Everything works without it: the server decides and checks everything.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });
  var provider = document.getElementById("provider");
  var url = document.getElementById("notification_url");
  if (provider && url) {
    var label = document.querySelector("label[for=notification_url]");
    var hint = document.getElementById("notification-url-hint");
    var update = function () {
      var square = provider.value === "square";
      [url, label, hint].forEach(function (el) { if (el) el.hidden = !square; });
    };
    provider.addEventListener("change", update);
    update();
  }
});
