// Latch web UI: the page behaviour that is ours (htmx does the rest). No inline script exists anywhere: the
// Content-Security-Policy allows only scripts served from /assets.
"use strict";

(function () {
  // Every htmx request that changes state carries the session's CSRF token, read from the page's <meta> tag.
  function csrfToken() {
    var meta = document.querySelector('meta[name="latch-csrf"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // A page that answers an htmx request with 403/409/400 still shows its message instead of doing nothing.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 400 || status === 403 || status === 404 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Countdowns: <time data-countdown datetime="RFC 3339"> shows the time left, updated every second.
  function describeLeft(milliseconds) {
    if (milliseconds <= 0) {
      return "ended";
    }
    var total = Math.floor(milliseconds / 1000);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var seconds = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (hours > 0) {
      return hours + "h " + pad(minutes) + "m " + pad(seconds) + "s left";
    }
    return minutes + "m " + pad(seconds) + "s left";
  }

  function updateCountdowns() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      var end = Date.parse(element.getAttribute("datetime"));
      if (!isNaN(end)) {
        var text = describeLeft(end - now);
        if (element.textContent !== text) {
          element.textContent = text;
        }
        element.classList.toggle("ended", end <= now);
      }
    });
  }

  // Times in UTC (as rendered) are shown in the browser's own time zone too, as a tooltip.
  function localTooltips(root) {
    root.querySelectorAll("time[data-local]").forEach(function (element) {
      var at = new Date(element.getAttribute("datetime"));
      if (!isNaN(at.getTime())) {
        element.title = at.toLocaleString();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    updateCountdowns();
    localTooltips(document);
    window.setInterval(updateCountdowns, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    updateCountdowns();
    localTooltips(event.target);
  });
})();
