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

  // Copy buttons: [data-copy] names the field whose value goes to the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) {
      return;
    }
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) {
      return;
    }
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  });

  // Replays: every [data-cast] element gets an asciinema-player for the recording its URL serves (read once,
  // with the session's cookie). The recording's header says when its channel started, so an event of the session
  // (a [data-seek-ms] button, the event's time in milliseconds) seeks the player of its channel to its moment.
  var players = {};

  function startPlayers() {
    var elements = document.querySelectorAll("[data-cast]");
    if (elements.length === 0 || !window.AsciinemaPlayer) {
      return;
    }
    elements.forEach(function (element) {
      fetch(element.getAttribute("data-cast"), { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("the server answered " + response.status);
          }
          return response.text();
        })
        .then(function (text) {
          var header = JSON.parse(text.slice(0, text.indexOf("\n")));
          var player = window.AsciinemaPlayer.create({ data: text }, element, { fit: "width", preload: true });
          players[element.getAttribute("data-channel")] = { player: player, element: element, startMs: (header.timestamp || 0) * 1000 };
          element.setAttribute("data-ready", "true");
        })
        .catch(function (error) {
          element.textContent = "This recording cannot be replayed: " + error.message;
          element.setAttribute("data-ready", "error");
        });
    });
  }

  // A live session: [data-live] names the server-sent events of its terminals (asciicast v2 lines).
  function startLivePlayers() {
    if (!window.AsciinemaPlayer) {
      return;
    }
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var source = { driver: "eventsource", url: element.getAttribute("data-live"), bufferTime: 0 };
      window.AsciinemaPlayer.create(source, element, { autoPlay: true, fit: "width" });
      element.setAttribute("data-ready", "true");
    });
  }

  function playerFor(channel) {
    if (players[channel]) {
      return players[channel];
    }
    var keys = Object.keys(players);
    return keys.length > 0 ? players[keys[0]] : null;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-seek-ms]") : null;
    if (!button) {
      return;
    }
    var entry = playerFor(button.getAttribute("data-channel"));
    if (!entry) {
      return;
    }
    var seconds = Math.max(0, (Number(button.getAttribute("data-seek-ms")) - entry.startMs) / 1000);
    document.querySelectorAll("button[data-seek-ms][aria-current]").forEach(function (other) {
      other.removeAttribute("aria-current");
    });
    button.setAttribute("aria-current", "true");
    Promise.resolve(entry.player.seek(seconds)).then(function () {
      entry.element.setAttribute("data-position", seconds.toFixed(1));
      entry.element.scrollIntoView({ block: "nearest" });
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    updateCountdowns();
    localTooltips(document);
    startPlayers();
    startLivePlayers();
    window.setInterval(updateCountdowns, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    updateCountdowns();
    localTooltips(event.target);
  });
})();
