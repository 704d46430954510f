// edgerec LAN page: refreshes the masked snapshots every 2 s and the health
// figures every 5 s. No framework, no inline script (the CSP forbids it); all
// text goes in through textContent, never innerHTML.
(function () {
  "use strict";

  var SNAPSHOT_MS = 2000;
  var HEALTH_MS = 5000;
  var root = document.getElementById("dashboard");
  if (!root) { return; } // login page

  function toLogin() { window.location.assign("/"); }

  function formatBytes(n) {
    if (n < 1024) { return n + " B"; }
    var units = "KMGTPE", i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i] + "iB";
  }

  function formatDuration(ns) {
    var s = Math.floor(ns / 1e9);
    if (s <= 0) { return "\u2014"; }
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) { return d + "d " + h + "h"; }
    if (h > 0) { return h + "h " + m + "m"; }
    if (m > 0) { return m + "m " + (s % 60) + "s"; }
    return s + "s";
  }

  function formatTime(t) {
    if (!t || t.indexOf("0001-01-01") === 0) { return "\u2014"; }
    var d = new Date(t);
    return isNaN(d) ? "\u2014" : d.toISOString().replace(/\.\d+Z$/, "Z");
  }

  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }
  function field(name) { return root.querySelector('[data-field="' + name + '"]'); }

  // Snapshots: point the <img> at a fresh URL (cache-busting query) and ask
  // for the next picture only after the previous answer, so requests never
  // pile up on a slow link. The browser keeps showing the old picture until
  // the new one has loaded.
  function snapshotURL(id) {
    return "/api/v1/cameras/" + encodeURIComponent(id) + "/snapshot?t=" + Date.now();
  }

  function startSnapshot(img) {
    var id = img.getAttribute("data-camera");
    var note = img.parentNode.querySelector('[data-cam-field="picture"]');
    var timer = null;
    function next() {
      clearTimeout(timer);
      timer = setTimeout(load, SNAPSHOT_MS);
    }
    function load() {
      if (document.hidden) { next(); return; }
      img.src = snapshotURL(id);
    }
    img.addEventListener("load", function () { setText(note, ""); img.classList.remove("stale"); next(); });
    img.addEventListener("error", function () {
      setText(note, "No picture");
      img.classList.add("stale");
      checkSession();
      next();
    });
    if (img.complete) { next(); } // the server rendered the first picture
  }

  function checkSession() {
    fetch("/api/v1/health", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (r.status === 401) { toLogin(); } })
      .catch(function () {});
  }

  // Health: update the figures in place; reload when the camera set changes.
  function cameraIDs() {
    return Array.prototype.map.call(root.querySelectorAll("[data-camera-card]"), function (el) {
      return el.getAttribute("data-camera-card");
    }).sort().join("\n");
  }

  function applyHealth(h) {
    setText(field("uptime"), h.uptime);
    setText(field("time"), formatTime(h.time));
    var st = h.storage || {};
    setText(field("storage.ring"), formatBytes(st.ring_bytes || 0));
    var pct = st.ring_bytes > 0 ? Math.floor(100 * st.used_bytes / st.ring_bytes) : 0;
    setText(field("storage.used"), formatBytes(st.used_bytes || 0) + " (" + pct + "%)");
    setText(field("storage.segments"), String(st.segments || 0));
    setText(field("storage.oldest"), formatTime(st.oldest));
    var meter = document.getElementById("ring-meter");
    if (meter) { meter.max = st.ring_bytes || 0; meter.value = st.used_bytes || 0; }
    var hz = field("storage.horizon");
    if (hz) {
      setText(hz, formatDuration(st.horizon_ns || 0) +
        (st.horizon_floor_ns ? " (floor " + formatDuration(st.horizon_floor_ns) + ")" : ""));
      hz.classList.toggle("bad", st.horizon_floor_ns > 0 && st.horizon_ns < st.horizon_floor_ns);
    }

    var warnings = h.warnings || [];
    var box = document.getElementById("warnings");
    var list = document.getElementById("warning-list");
    if (box && list) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      warnings.forEach(function (w) {
        var li = document.createElement("li");
        li.textContent = w;
        list.appendChild(li);
      });
      box.classList.toggle("hidden", warnings.length === 0);
    }

    var cams = h.cameras || [];
    if (document.getElementById("cameras")) {
      var ids = cams.map(function (c) { return c.id; }).sort().join("\n");
      if (ids !== cameraIDs()) { window.location.reload(); return; }
    }
    cams.forEach(function (c) {
      var card = root.querySelector('[data-camera-card="' + CSS.escape(c.id) + '"]');
      if (!card) { return; }
      function cf(name) { return card.querySelector('[data-cam-field="' + name + '"]'); }
      var state = cf("state");
      if (state) { setText(state, c.state); state.className = "pill state-" + c.state; }
      setText(cf("fps"), (c.fps || 0).toFixed(1));
      setText(cf("kbps"), Math.round(c.kbps || 0) + " kbit/s");
      setText(cf("resolution"), c.width ? c.width + "\u00d7" + c.height : "\u2014");
      setText(cf("last_frame"), formatTime(c.last_frame));
      var masked = cf("masked");
      if (masked) {
        var pill = masked.querySelector(".pill");
        if (pill) {
          setText(pill, c.masked ? "masked" : "none");
          pill.className = "pill " + (c.masked ? "ok" : "neutral");
        }
      }
      var reason = cf("reason");
      // issue 18: an H.265 camera says why it has no image health.
      var why = c.reason || c.image_unchecked || "";
      if (reason) { setText(reason, why); reason.classList.toggle("hidden", !why); }
    });
  }

  var status = document.getElementById("status");
  function refreshHealth() {
    if (document.hidden) { return; }
    fetch("/api/v1/health", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { toLogin(); return null; }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (h) { if (h) { applyHealth(h); setText(status, ""); } })
      .catch(function () { setText(status, "The device is not answering; retrying\u2026"); });
  }

  if (root.getAttribute("data-live") === "1") {
    Array.prototype.forEach.call(root.querySelectorAll("img[data-camera]"), startSnapshot);
  }
  setInterval(refreshHealth, HEALTH_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { refreshHealth(); } });
})();
