// edgerec LAN page: the script-driven pages (cameras, mask editor, live
// view, recordings, requests, users, review, audit, exports, decommission,
// account, settings). No inline script (CSP); text goes in through textContent only.
(function () {
  "use strict";
  var root = document.getElementById("app");
  if (!root) { return; }
  var page = root.getAttribute("data-page");
  var msgEl = document.getElementById("msg");
  var whoEl = document.getElementById("who");
  var me = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }
  function say(text, ok) {
    msgEl.textContent = text || "";
    msgEl.classList.toggle("hidden", !text);
    msgEl.classList.toggle("ok", !!ok);
  }
  function api(method, path, body, type) {
    var opt = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (body !== undefined) {
      opt.headers["Content-Type"] = type || "application/json";
      opt.body = type ? body : JSON.stringify(body);
    }
    return fetch(path, opt).then(function (r) {
      if (r.status === 401) { window.location.assign("/"); throw new Error("signed out"); }
      var ct = r.headers.get("Content-Type") || "";
      if (r.status === 204) { return null; }
      if (ct.indexOf("application/json") === 0) {
        return r.json().then(function (j) {
          if (!r.ok) { throw new Error(j.error || ("HTTP " + r.status)); }
          return j;
        });
      }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r;
    });
  }
  function fail(e) { say(e.message || String(e)); }
  // pendingSaid shows a change that waits for an approver (202, R27).
  function pendingSaid(res) {
    if (res && res.state === "waiting_for_approval") { say(res.message + ": an approver must approve it; nothing changed yet.", true); return true; }
    return false;
  }
  // Times are shown in the site's zone (device.timezone, issue 18) with
  // its offset, whatever the technician's laptop is set to; the API and
  // storage stay UTC.
  var siteTZ = (root && root.getAttribute("data-tz")) || "UTC";
  var tzFmt = null;
  try {
    tzFmt = new Intl.DateTimeFormat("en-GB", { timeZone: siteTZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "longOffset" });
  } catch (e) { siteTZ = "UTC"; }
  function zparts(d) { // the wall clock of d in the site's zone, and its offset in minutes
    if (!tzFmt) { var i = d.toISOString(); return { y: i.slice(0, 4), mo: i.slice(5, 7), d: i.slice(8, 10), h: i.slice(11, 13), mi: i.slice(14, 16), s: i.slice(17, 19), off: 0 }; }
    var p = {};
    tzFmt.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    var m = /GMT([+-])(\d\d):?(\d\d)?/.exec(p.timeZoneName || ""), off = 0;
    if (m) { off = (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] || 0)); }
    return { y: p.year, mo: p.month, d: p.day, h: p.hour, mi: p.minute, s: p.second, off: off };
  }
  function offText(off) {
    if (siteTZ === "UTC") { return "UTC"; }
    var a = Math.abs(off);
    return (off < 0 ? "-" : "+") + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
  }
  function fmtDate(d) { var p = zparts(d); return p.y + "-" + p.mo + "-" + p.d + " " + p.h + ":" + p.mi + ":" + p.s + " " + offText(p.off); }
  function fmt(t) {
    if (!t) { return "\u2014"; }
    var d = new Date(t);
    return isNaN(d) ? "\u2014" : fmtDate(d);
  }
  function localInput(d) { // Date → value of <input type=datetime-local>, site time
    var p = zparts(d);
    return p.y + "-" + p.mo + "-" + p.d + "T" + p.h + ":" + p.mi + ":" + p.s;
  }
  // For support and tests: the page's time conversions.
  window.edgerecTime = { zone: function () { return siteTZ; }, fmt: fmt, localInput: localInput, fromInput: function (v) { return fromInput(v); } };
  function fromInput(v) { // site wall time → Date (the offset valid at that time, DST included)
    if (!v) { return null; }
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v);
    if (!m) { return null; }
    var guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var t = guess - zparts(new Date(guess)).off * 60000;
    var o2 = zparts(new Date(t)).off;
    return new Date(guess - o2 * 60000);
  }
  function can(p) { return me && me.permissions.indexOf(p) >= 0; }
  function canGrant(p) { return me && me.grant_permissions.indexOf(p) >= 0; }
  function formJSON(form) {
    var o = {};
    Array.prototype.forEach.call(form.elements, function (f) {
      if (!f.name) { return; }
      if (f.type === "number") { o[f.name] = f.value === "" ? 0 : Number(f.value); }
      else if (f.multiple) { o[f.name] = Array.prototype.filter.call(f.options, function (x) { return x.selected; }).map(function (x) { return x.value; }); }
      else { o[f.name] = f.value; }
    });
    return o;
  }
  function button(text, fn, cls) {
    var b = el("button", text, cls || "small");
    b.type = "button";
    b.addEventListener("click", fn);
    return b;
  }
  function cameraOptions(sel, cams) {
    clear(sel);
    cams.forEach(function (c) { var o = el("option", c.name ? c.name + " (" + c.id + ")" : c.id); o.value = c.id; sel.appendChild(o); });
  }
  // R18: viewer identity and a ticking time over a video. The guard hides
  // the video if the overlay is removed or made invisible.
  function overlay(box, ov, video) {
    var user = whoEl ? whoEl.getAttribute("data-user") : "";
    function tick() {
      var w = ov.querySelector(".ov-who") || ov.querySelector("#overlay-who");
      var t = ov.querySelector(".ov-time") || ov.querySelector("#overlay-time");
      if (w) { w.textContent = user + " @ " + root.getAttribute("data-device"); }
      if (t) { t.textContent = fmtDate(new Date()); }
      var cs = ov.isConnected ? getComputedStyle(ov) : null;
      var visible = cs && cs.display !== "none" && cs.visibility !== "hidden" && Number(cs.opacity) > 0.5 && ov.parentNode === box;
      video.classList.toggle("hidden", !visible);
      if (!visible && !video.paused) { video.pause(); }
    }
    tick();
    setInterval(tick, 1000);
  }

  var pages = {};

  // --- cameras ---
  pages.cameras = function () {
    var form = $("camera-form"), list = $("camera-list"), editing = null;
    if (!can("cameras.manage")) { $("camera-form-card").classList.add("hidden"); }
    api("GET", "/api/v1/zones").then(function (zs) {
      var sel = $("zone-select");
      zs.forEach(function (z) { var o = el("option", z.zone + (z.refused ? " \u2014 refused" : "")); o.value = z.zone; sel.appendChild(o); });
    }).catch(function () {});
    if (can("cameras.manage")) {
      api("GET", "/api/v1/devices").then(function (ds) {
        ds.forEach(function (d) { var o = el("option", d.path + " " + d.name + (d.busy ? " (in use)" : "")); o.value = d.url; $("device-select").appendChild(o); });
      }).catch(function () {});
    }
    $("device-select").addEventListener("change", function () { if (this.value) { form.elements.source.value = this.value; } });
    $("probe-btn").addEventListener("click", function () {
      $("probe-result").textContent = "Probing\u2026";
      api("POST", "/api/v1/probe", { url: form.elements.source.value }).then(function (p) {
        $("probe-result").textContent = "Source OK: " + p.codec + " " + p.width + "\u00d7" + p.height + " @ " + p.fps + " fps";
      }).catch(function (e) { $("probe-result").textContent = e.message; });
    });
    function reset() { editing = null; form.reset(); form.elements.id.disabled = false; $("camera-form-title").textContent = "Add a camera"; }
    $("camera-form-reset").addEventListener("click", reset);
    // The schedule box: "mon,tue 08:00-19:00" per line (issue 18); the
    // device checks the windows and names a bad one.
    function parseSchedule(text) {
      var out = [];
      text.split("\n").forEach(function (line, i) {
        line = line.trim();
        if (!line) { return; }
        var m = /^([a-z,]+)\s+(\d\d:\d\d)\s*-\s*(\d\d:\d\d)$/.exec(line.toLowerCase());
        if (!m) { throw new Error("Recording schedule, line " + (i + 1) + ": write days and a time range, e.g. mon,tue,wed 08:00-19:00"); }
        out.push({ days: m[1].split(",").filter(function (d) { return d; }), from: m[2], to: m[3] });
      });
      return out;
    }
    function scheduleText(ws) { return (ws || []).map(function (w) { return w.days.join(",") + " " + w.from + "-" + w.to; }).join("\n"); }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = formJSON(form);
      try { body.schedule = parseSchedule($("schedule-text").value); } catch (e) { fail(e); return; }
      var p = editing ? api("PUT", "/api/v1/cameras/" + encodeURIComponent(editing), body) : api("POST", "/api/v1/cameras", body);
      p.then(function (res) { if (!pendingSaid(res)) { say("Camera saved.", true); } reset(); load(); }).catch(fail);
    });
    function edit(c) {
      editing = c.id;
      $("camera-form-title").textContent = "Edit " + c.id;
      var f = form.elements;
      f.id.value = c.id; f.id.disabled = true; f.name.value = c.name; f.source.value = ""; f.source.placeholder = c.source + " (unchanged)";
      f.sub_source.value = ""; f.sub_source.placeholder = c.sub_source ? c.sub_source + " (unchanged; none to remove)" : "none";
      f.zone.value = c.zone; f.signage_by.value = c.signage_by; f.signage_date.value = c.signage_date; f.retention_days.value = c.retention_days;
      $("schedule-text").value = scheduleText(c.schedule);
      form.scrollIntoView();
    }
    var waiting = {};
    function load() {
      // Coverage changes of mine that wait for an approver (R27).
      api("GET", "/api/v1/grants/mine").then(function (gs) {
        waiting = {};
        gs.filter(function (g) { return g.action === "coverage" && g.state === "requested"; }).forEach(function (g) {
          (waiting[g.cameras[0]] = waiting[g.cameras[0]] || []).push(g);
        });
      }).catch(function () {}).then(function () { return api("GET", "/api/v1/cameras"); }).then(function (cams) {
        clear(list);
        if (!cams.length) { list.appendChild(el("p", "No cameras configured.", "muted")); }
        cams.forEach(function (c) {
          var card = el("article", null, "card camera");
          card.setAttribute("data-camera-card", c.id);
          card.appendChild(el("h3", c.name || c.id));
          card.appendChild(el("p", c.id + " \u00b7 " + c.zone + " \u00b7 " + c.masks.length + " masks" +
            " \u00b7 records " + ((c.schedule && c.schedule.length) ? scheduleText(c.schedule).split("\n").join("; ") : "always"), "muted mono"));
          if (!c.commissioned) { card.appendChild(el("p", "Signage attestation missing: commissioning incomplete (R3).", "reason")); }
          (waiting[c.id] || []).forEach(function (g) {
            var w = el("p", g.kind + ": waiting for approval (request " + g.id + ")", "reason"); w.setAttribute("data-pending", g.id); card.appendChild(w);
          });
          if (can("cameras.live")) {
            var img = el("img"); img.alt = "Masked snapshot";
            var snap = "/api/v1/cameras/" + encodeURIComponent(c.id) + "/snapshot?t=";
            // A camera just added has no picture for a moment: retry.
            var tries = 0;
            img.addEventListener("error", function () {
              if (tries++ < 30) { setTimeout(function () { img.src = snap + Date.now(); }, 1000); }
            });
            img.src = snap + Date.now();
            var fr = el("div", null, "frame"); fr.appendChild(img); card.appendChild(fr);
          }
          var row = el("div", null, "row");
          if (can("cameras.manage")) {
            row.appendChild(button("Edit", function () { edit(c); }));
            row.appendChild(button("Remove", function () {
              if (!window.confirm("Remove camera " + c.id + "?")) { return; }
              api("DELETE", "/api/v1/cameras/" + encodeURIComponent(c.id)).then(function (res) { pendingSaid(res); load(); }).catch(fail);
            }, "small ghost"));
          }
          if (can("masks.manage")) {
            var a = el("a", "Masks", "button small"); a.href = "/cameras/" + encodeURIComponent(c.id) + "/masks"; a.setAttribute("data-masks", c.id); row.appendChild(a);
          }
          card.appendChild(row);
          list.appendChild(card);
        });
      }).catch(fail);
    }
    load();
  };

  // --- mask editor (R2) ---
  pages.masks = function () {
    var cam = root.getAttribute("data-camera");
    var img = $("mask-img"), cv = $("mask-canvas"), ctx = cv.getContext("2d");
    var masks = [], sel = -1, drag = null;
    function size() { cv.width = img.clientWidth; cv.height = img.clientHeight; draw(); }
    function draw() {
      ctx.clearRect(0, 0, cv.width, cv.height);
      var prev = $("mask-preview").checked;
      masks.forEach(function (m, i) {
        if (!m.polygon.length) { return; }
        ctx.beginPath();
        m.polygon.forEach(function (p, j) { var x = p[0] * cv.width, y = p[1] * cv.height; if (j) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); } });
        ctx.closePath();
        if (prev) {
          if (m.style === "pixelate") {
            ctx.save(); ctx.clip();
            for (var y = 0; y < cv.height; y += 12) { for (var x = 0; x < cv.width; x += 12) { ctx.fillStyle = ((x + y) / 12) % 2 ? "#555" : "#777"; ctx.fillRect(x, y, 12, 12); } }
            ctx.restore();
          } else { ctx.fillStyle = "rgba(0,0,0,0.92)"; ctx.fill(); }
        }
        ctx.lineWidth = i === sel ? 3 : 1.5; ctx.strokeStyle = i === sel ? "#2f81f7" : "#f0b429"; ctx.stroke();
        if (m.polygon.length > 2) { drawGrown(m.polygon, m.style === "pixelate" ? 2 : 1); }
        m.polygon.forEach(function (p) { ctx.fillStyle = "#fff"; ctx.fillRect(p[0] * cv.width - 4, p[1] * cv.height - 4, 8, 8); });
      });
      var list = $("mask-list"); clear(list);
      masks.forEach(function (m, i) { var li = el("li", m.name + " \u2014 " + m.style + ", " + m.polygon.length + " points" + (i === sel ? " (selected)" : "")); list.appendChild(li); });
    }
    // The area actually masked: every 16x16 macroblock of the stream's
    // coded grid holding a pixel centre inside the polygon, plus guard rings
    // of macroblocks around them (edge/mask: one for fill, two for
    // pixelate), drawn as a dashed outline.
    function drawGrown(poly, rings) {
      var W = img.naturalWidth, H = img.naturalHeight;
      if (!W || !H) { return; }
      var cols = Math.ceil(W / 16), rows = Math.ceil(H / 16), hit = new Uint8Array(cols * rows);
      for (var y = 0; y < H; y++) {
        var yc = y + 0.5, xs = [];
        for (var i = 0, j = poly.length - 1; i < poly.length; j = i++) {
          var y0 = poly[j][1] * H, y1 = poly[i][1] * H;
          if ((y0 <= yc) !== (y1 <= yc)) { xs.push(poly[j][0] * W + (yc - y0) * (poly[i][0] - poly[j][0]) * W / (y1 - y0)); }
        }
        xs.sort(function (a, b) { return a - b; });
        for (var k = 0; k + 1 < xs.length; k += 2) {
          var a = Math.max(0, Math.ceil(xs[k] - 0.5)), b = Math.min(W, Math.ceil(xs[k + 1] - 0.5));
          for (var c = Math.floor(a / 16); a < b && c <= Math.floor((b - 1) / 16); c++) { hit[Math.floor(y / 16) * cols + c] = 1; }
        }
      }
      // Guard rings of macroblocks around them (edge/mask GuardRings,
      // PixelateGuardRings).
      for (var ring = 0; ring < rings; ring++) {
        var g = hit.slice();
        for (var r0 = 0; r0 < rows; r0++) {
          for (var c0 = 0; c0 < cols; c0++) {
            if (!hit[r0 * cols + c0]) { continue; }
            for (var rr = Math.max(0, r0 - 1); rr <= Math.min(rows - 1, r0 + 1); rr++) {
              for (var cc = Math.max(0, c0 - 1); cc <= Math.min(cols - 1, c0 + 1); cc++) { g[rr * cols + cc] = 1; }
            }
          }
        }
        hit = g;
      }
      var sx = cv.width / W, sy = cv.height / H;
      function on(c, r) { return c >= 0 && r >= 0 && c < cols && r < rows && hit[r * cols + c]; }
      ctx.save(); ctx.setLineDash([4, 3]); ctx.lineWidth = 1; ctx.strokeStyle = "#e5534b"; ctx.beginPath();
      for (var r = 0; r < rows; r++) {
        for (var c2 = 0; c2 < cols; c2++) {
          if (!hit[r * cols + c2]) { continue; }
          var x0 = c2 * 16 * sx, x1 = Math.min(W, c2 * 16 + 16) * sx, yy0 = r * 16 * sy, yy1 = Math.min(H, r * 16 + 16) * sy;
          if (!on(c2, r - 1)) { ctx.moveTo(x0, yy0); ctx.lineTo(x1, yy0); }
          if (!on(c2, r + 1)) { ctx.moveTo(x0, yy1); ctx.lineTo(x1, yy1); }
          if (!on(c2 - 1, r)) { ctx.moveTo(x0, yy0); ctx.lineTo(x0, yy1); }
          if (!on(c2 + 1, r)) { ctx.moveTo(x1, yy0); ctx.lineTo(x1, yy1); }
        }
      }
      ctx.stroke(); ctx.restore();
    }
    function pos(ev) {
      var r = cv.getBoundingClientRect();
      return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
    }
    function inside(poly, p) {
      var c = false;
      for (var i = 0, j = poly.length - 1; i < poly.length; j = i++) {
        var a = poly[i], b = poly[j];
        if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]) { c = !c; }
      }
      return c;
    }
    cv.addEventListener("pointerdown", function (ev) {
      var p = pos(ev);
      for (var i = 0; i < masks.length; i++) {
        for (var j = 0; j < masks[i].polygon.length; j++) {
          var q = masks[i].polygon[j];
          if (Math.abs(q[0] - p[0]) * cv.width < 8 && Math.abs(q[1] - p[1]) * cv.height < 8) { sel = i; drag = { pt: j, m: i }; draw(); return; }
        }
      }
      for (i = 0; i < masks.length; i++) {
        if (masks[i].polygon.length > 2 && inside(masks[i].polygon, p) && !masks[i].open) { sel = i; drag = { move: p, m: i }; draw(); return; }
      }
      if (sel < 0 || !masks[sel].open) { newMask(); }
      masks[sel].polygon.push(p);
      draw();
    });
    cv.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      var p = pos(ev), m = masks[drag.m];
      if (drag.pt !== undefined) { m.polygon[drag.pt] = p; }
      else {
        var dx = p[0] - drag.move[0], dy = p[1] - drag.move[1];
        var ok = m.polygon.every(function (q) { return q[0] + dx >= 0 && q[0] + dx <= 1 && q[1] + dy >= 0 && q[1] + dy <= 1; });
        if (ok) { m.polygon = m.polygon.map(function (q) { return [q[0] + dx, q[1] + dy]; }); drag.move = p; }
      }
      draw();
    });
    window.addEventListener("pointerup", function () { drag = null; });
    function newMask() {
      masks.forEach(function (m) { m.open = false; });
      masks.push({ name: "mask-" + (masks.length + 1), style: $("mask-style").value, polygon: [], open: true });
      sel = masks.length - 1;
    }
    $("mask-new").addEventListener("click", function () { newMask(); draw(); });
    $("mask-style").addEventListener("change", function () { if (sel >= 0) { masks[sel].style = this.value; draw(); } });
    $("mask-delete").addEventListener("click", function () { if (sel >= 0) { masks.splice(sel, 1); sel = -1; draw(); } });
    $("mask-preview").addEventListener("change", draw);
    $("mask-save").addEventListener("click", function () {
      var body = { masks: masks.filter(function (m) { return m.polygon.length; }).map(function (m) { return { name: m.name, style: m.style, polygon: m.polygon }; }) };
      api("PUT", "/api/v1/cameras/" + encodeURIComponent(cam) + "/masks", body).then(function (res) {
        masks.forEach(function (m) { m.open = false; });
        if (pendingSaid(res)) { return; }
        say("Masks saved: recording and live view now use them.", true);
        setTimeout(function () { img.src = "/api/v1/cameras/" + encodeURIComponent(cam) + "/snapshot?t=" + Date.now(); }, 1500);
      }).catch(fail);
    });
    api("GET", "/api/v1/cameras/" + encodeURIComponent(cam)).then(function (c) {
      masks = c.masks.map(function (m) { return { name: m.name, style: m.style, polygon: m.polygon, open: false }; });
      draw();
    }).catch(fail);
    img.addEventListener("load", size);
    var mtries = 0;
    img.addEventListener("error", function () {
      if (mtries++ < 30) { setTimeout(function () { img.src = "/api/v1/cameras/" + encodeURIComponent(cam) + "/snapshot?t=" + Date.now(); }, 1000); }
    });
    window.addEventListener("resize", size);
    if (img.complete) { size(); }
  };

  // --- live view (WHEP, R18) ---
  pages.live = function () {
    var video = $("live-video"), pc = null, loc = null;
    overlay($("player"), $("overlay"), video);
    api("GET", "/api/v1/cameras").then(function (cams) { cameraOptions($("live-camera"), cams); }).catch(fail);
    function stop() {
      if (loc) { api("DELETE", loc).catch(function () {}); loc = null; }
      if (pc) { pc.close(); pc = null; }
      video.srcObject = null;
    }
    // The device closes a view that lost its authorization or reached its
    // maximum duration (DTLS close): the track ends; say so.
    function ended(which) {
      if (which !== pc) { return; }
      loc = null;
      stop();
      say("Live view ended by the device (signed out, permission changed, or time limit reached). Press Start to open it again.");
    }
    function start() {
      stop();
      var cam = $("live-camera").value;
      if (!cam) { return; }
      pc = new RTCPeerConnection({ iceServers: [] });
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.ontrack = function (ev) {
        ev.track.addEventListener("ended", function () { ended(local); });
        if (ev.receiver.transport) {
          ev.receiver.transport.addEventListener("statechange", function () {
            var st = ev.receiver.transport.state;
            if (st === "closed" || st === "failed") { ended(local); }
          });
        }
        try { ev.receiver.jitterBufferTarget = 0; } catch (e) { /* older browsers */ }
        try { ev.receiver.playoutDelayHint = 0; } catch (e) { /* older browsers */ }
        video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      };
      var local = pc;
      pc.onconnectionstatechange = function () {
        var st = local.connectionState;
        if (st === "closed" || st === "failed") { ended(local); }
      };
      pc.createOffer().then(function (o) { return local.setLocalDescription(o); }).then(function () {
        return new Promise(function (res) {
          if (local.iceGatheringState === "complete") { res(); return; }
          local.addEventListener("icegatheringstatechange", function () { if (local.iceGatheringState === "complete") { res(); } });
          setTimeout(res, 2000);
        });
      }).then(function () {
        return fetch("/api/v1/cameras/" + encodeURIComponent(cam) + "/whep", {
          method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/sdp" }, body: local.localDescription.sdp
        });
      }).then(function (r) {
        if (r.status !== 201) { return r.json().then(function (j) { throw new Error(j.error || "HTTP " + r.status); }); }
        loc = r.headers.get("Location");
        return r.text();
      }).then(function (sdp) { return local.setRemoteDescription({ type: "answer", sdp: sdp }); })
        .then(function () { say(""); })
        .catch(fail);
    }
    $("live-start").addEventListener("click", start);
    $("live-stop").addEventListener("click", stop);
    window.addEventListener("pagehide", stop);
    setInterval(function () {
      var q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
      $("live-stats").textContent = video.videoWidth ? video.videoWidth + "\u00d7" + video.videoHeight + (q ? ", " + q.totalVideoFrames + " frames" : "") : "";
    }, 1000);
  };

  // --- recordings: timeline + playback under a grant ---
  pages.recordings = function () {
    var video = $("rec-video"), tl = $("timeline"), range = null, ms = null, play = null;
    overlay($("rec-player"), $("rec-overlay"), video);
    var now = new Date();
    $("rec-to").value = localInput(now);
    $("rec-from").value = localInput(new Date(now.getTime() - 3600e3));
    api("GET", "/api/v1/cameras").then(function (cams) { cameraOptions($("rec-camera"), cams); loadTimeline(); }).catch(fail);
    function loadGrants() {
      api("GET", "/api/v1/grants/mine").then(function (gs) {
        var sel = $("rec-grant"); clear(sel);
        var o0 = el("option", "Choose a playback grant\u2026"); o0.value = ""; sel.appendChild(o0);
        gs.filter(function (g) { return g.action === "playback" && g.state === "approved"; }).forEach(function (g) {
          var o = el("option", g.id + " \u2014 " + g.cameras.join(",") + " " + fmt(g.from) + " \u2192 " + fmt(g.to) + " (expires " + fmt(g.expires) + ")");
          o.value = g.id; o.setAttribute("data-from", g.from); o.setAttribute("data-to", g.to); sel.appendChild(o);
        });
      }).catch(function () {});
    }
    function svg(tag, attrs) {
      var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      return e;
    }
    function loadTimeline() {
      var cam = $("rec-camera").value, f = fromInput($("rec-from").value), t = fromInput($("rec-to").value);
      if (!cam || !f || !t) { return; }
      api("GET", "/api/v1/recordings/" + encodeURIComponent(cam) + "/timeline?from=" + f.toISOString() + "&to=" + t.toISOString()).then(function (j) {
        range = { from: new Date(j.from), to: new Date(j.to), cam: cam };
        clear(tl);
        var span = range.to - range.from;
        tl.appendChild(svg("rect", { x: 0, y: 10, width: 1000, height: 30, "class": "gap" }));
        var total = 0, offTotal = 0;
        (j.scheduled_off || []).forEach(function (s) { // issue 18: not a gap
          var a = (new Date(s.from) - range.from) / span * 1000, b = (new Date(s.to) - range.from) / span * 1000;
          offTotal += new Date(s.to) - new Date(s.from);
          var r = svg("rect", { x: a, y: 10, width: Math.max(1, b - a), height: 30, "class": "off" });
          var tt = svg("title", {}); tt.textContent = "scheduled off " + fmt(s.from) + " \u2192 " + fmt(s.to); r.appendChild(tt);
          tl.appendChild(r);
        });
        j.spans.forEach(function (s) {
          var a = (new Date(s.from) - range.from) / span * 1000, b = (new Date(s.to) - range.from) / span * 1000;
          total += new Date(s.to) - new Date(s.from);
          tl.appendChild(svg("rect", { x: a, y: 10, width: Math.max(1, b - a), height: 30, "class": "span" }));
        });
        for (var i = 0; i <= 4; i++) {
          var tx = svg("text", { x: i * 250 + (i === 4 ? -2 : 2), y: 56, "class": "tick", "text-anchor": i === 4 ? "end" : "start" });
          tx.textContent = fmtDate(new Date(range.from.getTime() + span * i / 4)).slice(11, 19);
          tl.appendChild(tx);
        }
        tl.appendChild(svg("rect", { id: "playhead", x: 0, y: 5, width: 2, height: 40, "class": "playhead" }));
        $("timeline-legend").textContent = j.spans.length + " spans of footage, " + Math.round(total / 1000) + " s recorded" +
          (offTotal ? ", " + Math.round(offTotal / 1000) + " s scheduled off (dark grey, dashed: the recording schedule, not a gap)" : "") + "; grey = gap. Click to seek.";
      }).catch(fail);
      loadGrants();
    }
    $("rec-load").addEventListener("click", loadTimeline);
    tl.addEventListener("click", function (ev) {
      if (!range) { return; }
      var r = tl.getBoundingClientRect();
      var t = new Date(range.from.getTime() + (ev.clientX - r.left) / r.width * (range.to - range.from));
      start(t);
    });
    $("rec-request").addEventListener("click", function () {
      if (!range) { return; }
      var purpose = window.prompt("Purpose of the playback request");
      if (!purpose) { return; }
      api("POST", "/api/v1/grants", { action: "playback", purpose: purpose, cameras: [range.cam], from: range.from.toISOString(), to: range.to.toISOString(), validity_hours: 8 })
        .then(function (g) { say("Request " + g.id + " sent; an approver has to approve it.", true); }).catch(fail);
    });
    $("rec-play").addEventListener("click", function () {
      var o = $("rec-grant").selectedOptions[0];
      if (!o || !o.value) { say("Choose an approved playback grant (or request one)."); return; }
      start(new Date(Math.max(new Date(o.getAttribute("data-from")), range ? range.from : 0)));
    });
    var WINDOW = 30e3;
    function start(t) {
      var gid = $("rec-grant").value;
      if (!gid) { say("Choose an approved playback grant (or request one)."); return; }
      var cam = $("rec-camera").value;
      if (play) { play.stop = true; }
      var st = { stop: false, origin: t, next: t, end: new Date($("rec-grant").selectedOptions[0].getAttribute("data-to")), sb: null, queue: [] };
      play = st;
      ms = new MediaSource();
      video.src = URL.createObjectURL(ms);
      ms.addEventListener("sourceopen", function () { fetchWindow(st, cam, gid); }, { once: true });
    }
    function fetchWindow(st, cam, gid) {
      if (st.stop || st.next >= st.end) { if (st.sb && ms.readyState === "open" && !st.sb.updating) { try { ms.endOfStream(); } catch (e) { /* ignore */ } } return; }
      var to = new Date(Math.min(st.next.getTime() + WINDOW, st.end.getTime()));
      var url = "/api/v1/recordings/" + encodeURIComponent(cam) + "/play?grant=" + encodeURIComponent(gid) + "&from=" + st.next.toISOString() + "&to=" + to.toISOString() + "&origin=" + st.origin.toISOString();
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
        if (r.status === 404) { st.next = to; fetchWindow(st, cam, gid); return null; }
        if (!r.ok) { return r.json().then(function (j) { throw new Error("Playback stopped: " + (j.error || r.status)); }); }
        if (!st.sb) {
          st.sb = ms.addSourceBuffer('video/mp4; codecs="' + (r.headers.get("X-Codec") || "avc1.42E01F") + '"');
          st.sb.addEventListener("updateend", function () {
            // Footage may start after the requested time (a gap): jump to it.
            var b = video.buffered;
            if (b.length && (video.currentTime < b.start(0) || video.currentTime > b.end(b.length - 1))) { video.currentTime = b.start(0); }
            pump(st);
          });
        }
        return r.arrayBuffer();
      }).then(function (buf) {
        if (!buf) { return; }
        st.queue.push(buf); pump(st);
        st.next = to;
        $("rec-status").textContent = "Playing under grant " + gid + " from " + fmt(st.origin);
        var wait = function () {
          if (st.stop) { return; }
          var ahead = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
          if (ahead > 20) { setTimeout(wait, 1000); } else { fetchWindow(st, cam, gid); }
        };
        wait();
        if (video.paused) { video.play().catch(function () {}); }
      }).catch(function (e) { st.stop = true; video.pause(); say(e.message); $("rec-status").textContent = e.message; });
    }
    function pump(st) {
      if (st.sb && !st.sb.updating && st.queue.length) { st.sb.appendBuffer(st.queue.shift()); }
    }
    video.addEventListener("timeupdate", function () {
      if (!play || !range) { return; }
      var t = play.origin.getTime() + video.currentTime * 1000;
      var ph = document.getElementById("playhead");
      if (ph) { ph.setAttribute("x", Math.max(0, Math.min(998, (t - range.from) / (range.to - range.from) * 1000))); }
    });
  };

  // --- requests and grants (R12, R13) ---
  pages.requests = function () {
    var form = $("request-form");
    if (!can("recordings.request")) { form.parentNode.classList.add("hidden"); }
    else {
      api("GET", "/api/v1/cameras").then(function (cams) { cameraOptions($("req-cameras"), cams); }).catch(fail);
      var now = new Date();
      form.elements.to.value = localInput(now);
      form.elements.from.value = localInput(new Date(now.getTime() - 3600e3));
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var b = formJSON(form);
      b.from = fromInput(b.from).toISOString(); b.to = fromInput(b.to).toISOString();
      api("POST", "/api/v1/grants", b).then(function (g) { say("Request " + g.id + " sent.", true); load(); }).catch(fail);
    });
    function load() {
      var path = can("grants.read") ? "/api/v1/grants" : "/api/v1/grants/mine";
      api("GET", path).then(function (gs) {
        var tb = $("grant-table").tBodies[0]; clear(tb);
        gs.forEach(function (g) {
          var tr = el("tr"); tr.setAttribute("data-grant", g.id);
          tr.appendChild(el("td", g.id, "mono"));
          tr.appendChild(el("td", g.action === "role" ? "role: " + g.role + " for " + (g.subject_name || g.subject) : g.action === "coverage" ? "coverage: " + g.kind : g.action));
          tr.appendChild(el("td", g.requester_name || g.requester));
          tr.appendChild(el("td", g.cameras.length ? g.cameras.join(", ") + (g.from ? " " + fmt(g.from) + " \u2192 " + fmt(g.to) : "") : "\u2014"));
          tr.appendChild(el("td", g.purpose));
          var st = el("td"); st.appendChild(el("span", g.state, "pill state-" + g.state)); if (g.reason) { st.appendChild(el("div", g.reason, "muted small")); } tr.appendChild(st);
          tr.appendChild(el("td", g.state === "requested" ? "request lapses " + fmt(g.request_expires) : fmt(g.expires)));
          var act = el("td");
          if (g.state === "requested" && can("grants.approve") && g.requester !== me.id) {
            act.appendChild(button("Approve", function () { api("POST", "/api/v1/grants/" + g.id + "/approve").then(load).catch(fail); }, "small primary"));
            act.appendChild(button("Deny", function () {
              var why = window.prompt("Reason for denying"); if (!why) { return; }
              api("POST", "/api/v1/grants/" + g.id + "/deny", { reason: why }).then(load).catch(fail);
            }));
          }
          if ((g.state === "approved" || g.state === "requested") && (can("grants.revoke") || g.requester === me.id)) {
            act.appendChild(button("Revoke", function () {
              var why = window.prompt("Reason for revoking"); if (!why) { return; }
              api("POST", "/api/v1/grants/" + g.id + "/revoke", { reason: why }).then(load).catch(fail);
            }, "small ghost"));
          }
          // R8: a placed legal hold outlives its grant; an approver who did
          // not request it releases it, also after the grant expired.
          if (g.action === "legal_hold" && (g.state === "approved" || g.state === "expired") && can("grants.approve") && g.requester !== me.id) {
            act.appendChild(button("Release hold", function () {
              var why = window.prompt("Reason for releasing the legal hold"); if (!why) { return; }
              api("POST", "/api/v1/grants/" + g.id + "/release", { reason: why }).then(load).catch(fail);
            }, "small ghost"));
          }
          tr.appendChild(act);
          tb.appendChild(tr);
        });
      }).catch(fail);
    }
    load();
    setInterval(load, 10000);
  };

  // --- users and roles ---
  pages.users = function () {
    $("user-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/api/v1/users", formJSON(this)).then(function (u) { say("User " + u.user + " created; now request a role for them.", true); ev.target.reset(); load(); }).catch(fail);
    });
    function load() {
      api("GET", "/api/v1/users").then(function (us) {
        var tb = $("user-table").tBodies[0]; clear(tb);
        us.forEach(function (u) {
          var tr = el("tr"); tr.setAttribute("data-user-row", u.user);
          tr.appendChild(el("td", u.user));
          tr.appendChild(el("td", (u.role || "none") + (u.role_expires ? " until " + fmt(u.role_expires).slice(0, 10) : "")));
          tr.appendChild(el("td", u.trained ? String(u.trained).slice(0, 10) : "\u2014")); // a date, not a time
          tr.appendChild(el("td", fmt(u.last_login)));
          tr.appendChild(el("td", u.disabled ? "disabled" : (u.locked ? "locked" : "active")));
          var act = el("td"), sel = el("select");
          ["installer", "operator", "approver", "auditor", "admin"].forEach(function (r) { var o = el("option", r); o.value = r; sel.appendChild(o); });
          sel.setAttribute("aria-label", "Role for " + u.user);
          act.appendChild(sel);
          act.appendChild(button("Request role", function () {
            api("POST", "/api/v1/users/" + u.id + "/role", { role: sel.value, purpose: "role for " + u.user, validity_days: 365 })
              .then(function (g) { say("Role request " + g.id + " is " + g.state + ".", true); load(); }).catch(fail);
          }));
          act.appendChild(button("Training today", function () {
            api("POST", "/api/v1/users/" + u.id + "/training", { date: localInput(new Date()).slice(0, 10) }).then(load).catch(fail);
          }));
          act.appendChild(button(u.disabled ? "Enable" : "Disable", function () {
            if (u.disabled) { api("POST", "/api/v1/users/" + u.id + "/enable").then(load).catch(fail); return; }
            var why = window.prompt("Reason"); if (!why) { return; }
            api("POST", "/api/v1/users/" + u.id + "/disable", { reason: why }).then(load).catch(fail);
          }, "small ghost"));
          tr.appendChild(act);
          tb.appendChild(tr);
        });
      }).catch(fail);
    }
    load();
  };

  function visitRows(tb, vs) {
    clear(tb);
    vs.forEach(function (v) {
      var tr = el("tr");
      [fmt(v.at || v.At), v.actor_name || v.Who, ((v.cameras || v.Cameras) || []).join(", ") || "\u2014", v.work || v.Work].forEach(function (x) { tr.appendChild(el("td", x)); });
      tb.appendChild(tr);
    });
  }
  pages.update = function () {
    function status() { api("GET", "/api/v1/update").then(function (st) { $("update-status").textContent = JSON.stringify(st, null, 2); }).catch(fail); }
    $("update-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = $("update-file").files[0];
      if (!f) { return; }
      say("Uploading and checking " + f.name + " \u2026", true);
      api("POST", "/api/v1/update", f, "application/octet-stream").then(function (res) { say(res.message + ": an approver must approve it on the Requests page.", true); status(); }).catch(fail);
    });
    status();
  };

  pages.maintenance = function () {
    api("GET", "/api/v1/cameras").then(function (cams) { cameraOptions($("visit-cameras"), cams); }).catch(function () {});
    function load() { api("GET", "/api/v1/maintenance").then(function (vs) { visitRows($("visit-table").tBodies[0], vs); }).catch(fail); }
    $("visit-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/api/v1/maintenance", formJSON(this)).then(function () { say("Visit recorded.", true); ev.target.reset(); load(); }).catch(fail);
    });
    load();
  };

  pages.settings = function () {
    function lines(t) { return t.split(/\r?\n/).map(function (x) { return x.trim(); }).filter(Boolean); }
    function readFile(input) {
      var f = input.files && input.files[0];
      if (!f) { return Promise.resolve(""); }
      return new Promise(function (ok, no) { var r = new FileReader(); r.onload = function () { ok(String(r.result)); }; r.onerror = function () { no(new Error("cannot read " + f.name)); }; r.readAsText(f); });
    }
    function certText(c) {
      if (!c) { return "\u2014"; }
      if (c.error) { return "unreadable: " + c.error; }
      return c.subject + " \u2014 expires " + fmt(c.not_after) + (c.expired ? " (EXPIRED)" : "") + " \u2014 SHA-256 " + c.sha256.slice(0, 16) + "\u2026" + (c.count ? " (" + c.count + " certificates)" : "");
    }
    function section(id, st) {
      var card = $(id);
      card.querySelector("[data-restart]") && card.querySelector("[data-restart]").classList.toggle("hidden", !st.restart_needed);
      Array.prototype.forEach.call(card.querySelectorAll("input, textarea, button"), function (f) { f.disabled = !st.may_change; });
      if (!st.available) { card.classList.add("hidden"); }
    }
    function answered(res) {
      if (pendingSaid(res)) { load(); return; }
      say(res.message + (res.restart_needed ? " \u2014 restart needed." : ""), true);
      load();
    }
    function load() {
      api("GET", "/api/v1/settings").then(function (v) {
        var u = v.uplink, dl = $("uplink-current"); clear(dl);
        [["Broker", u.configured ? u.broker : "not configured"], ["Topic prefix", u.topic_prefix || "\u2014"], ["CA", certText(u.ca)],
          ["Client certificate", certText(u.cert)], ["Client key", u.key || "\u2014"]].forEach(function (kv) {
          dl.appendChild(el("dt", kv[0])); dl.appendChild(el("dd", kv[1]));
        });
        if (u.configured && !$("uplink-broker").value) { $("uplink-broker").value = u.broker.indexOf("REDACTED") < 0 ? u.broker : ""; $("uplink-topic").value = u.topic_prefix || ""; }
        section("set-uplink", u);
        $("allow-you").textContent = v.allowlist.your_address;
        $("allow-entries").value = v.allowlist.entries.join("\n");
        section("set-allowlist", v.allowlist);
        $("ntp-servers").value = v.ntp.servers.join("\n");
        section("set-ntp", v.ntp);
        ["status_led", "tamper", "wipe_button"].forEach(function (k) { $("gpio-" + k).value = v.gpio[k] || ""; });
        section("set-gpio", v.gpio);
        $("ret-floor").textContent = v.retention.floor; $("ret-ceiling").textContent = v.retention.ceiling;
        var tb = $("ret-table").tBodies[0]; clear(tb);
        v.retention.cameras.forEach(function (c) {
          var tr = el("tr"); tr.setAttribute("data-camera", c.id);
          tr.appendChild(el("td", c.name ? c.name + " (" + c.id + ")" : c.id));
          tr.appendChild(el("td", c.effective + (c.retention ? "" : " (floor)")));
          var inp = el("input"); inp.value = c.retention || c.effective; inp.maxLength = 16; inp.disabled = !v.retention.may_change; inp.setAttribute("aria-label", "retention of " + c.id);
          var td = el("td"); td.appendChild(inp); tr.appendChild(td);
          var b = button("Save", function () {
            api("PUT", "/api/v1/settings/retention", { camera: c.id, retention: inp.value.trim() }).then(answered).catch(fail);
          });
          b.disabled = !v.retention.may_change;
          td = el("td"); td.appendChild(b); tr.appendChild(td);
          tb.appendChild(tr);
        });
        section("set-retention", v.retention);
      }).catch(fail);
    }
    $("uplink-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      Promise.all([readFile($("uplink-ca")), readFile($("uplink-cert")), readFile($("uplink-key"))]).then(function (p) {
        return api("PUT", "/api/v1/settings/uplink", { broker: $("uplink-broker").value.trim(), topic_prefix: $("uplink-topic").value.trim(), ca_pem: p[0], cert_pem: p[1], key_pem: p[2] });
      }).then(function (res) { ["uplink-ca", "uplink-cert", "uplink-key"].forEach(function (id) { $(id).value = ""; }); answered(res); }).catch(fail);
    });
    $("allowlist-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("PUT", "/api/v1/settings/allowlist", { allowlist: lines($("allow-entries").value) }).then(answered).catch(fail);
    });
    $("ntp-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("PUT", "/api/v1/settings/ntp", { servers: lines($("ntp-servers").value) }).then(answered).catch(fail);
    });
    $("gpio-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("PUT", "/api/v1/settings/gpio", formJSON(this)).then(answered).catch(fail);
    });
    load();
  };

  pages.review = function () {
    api("GET", "/api/v1/review").then(function (rep) {
      if ($("review-visits")) { visitRows($("review-visits").tBodies[0], rep.visits || []); }
      var tb = $("review-table").tBodies[0]; clear(tb);
      rep.accounts.forEach(function (a) {
        var tr = el("tr");
        tr.appendChild(el("td", a.Name)); tr.appendChild(el("td", a.Role || "\u2014"));
        tr.appendChild(el("td", fmt(a.LastActivity))); tr.appendChild(el("td", (a.ActiveGrants || []).join(", ") || "\u2014"));
        tr.appendChild(el("td", [a.Disabled ? "disabled" : "", a.Disable ? "STALE: to disable" : (a.Stale ? "stale" : ""), a.Note].filter(Boolean).join("; ") || "ok"));
        tb.appendChild(tr);
      });
    }).catch(fail);
  };

  pages.audit = function () {
    function load() {
      api("GET", "/api/v1/audit?limit=300").then(function (j) {
        var tb = $("audit-table").tBodies[0]; clear(tb);
        j.records.slice().reverse().forEach(function (r) {
          var tr = el("tr"); tr.setAttribute("data-action", r.action); if (r.grant) { tr.setAttribute("data-grant", r.grant); }
          [r.seq, fmt(r.time), r.actor_name || r.actor, r.action, (r.target_kind || "") + (r.target ? ":" + r.target : ""), r.grant || "", r.result, r.detail || ""]
            .forEach(function (v, i) { tr.appendChild(el("td", v, i === 0 || i === 5 ? "mono" : "")); });
          tb.appendChild(tr);
        });
      }).catch(fail);
    }
    $("audit-verify").addEventListener("click", function () {
      api("GET", "/api/v1/audit/verify").then(function (v) {
        var p = $("audit-verdict"); p.textContent = v.ok ? "chain intact: " + v.records + " records" : "CHAIN BROKEN at " + v.first_bad + ": " + v.reason;
        p.className = "pill " + (v.ok ? "ok" : "bad");
      }).catch(fail);
    });
    load();
  };

  pages.exports = function () {
    function load() {
      api("GET", "/api/v1/grants/mine").then(function (gs) {
        var sel = $("export-grant"); clear(sel);
        gs.filter(function (g) { return g.action === "export" && g.state === "approved"; }).forEach(function (g) {
          var o = el("option", g.id + " \u2014 " + g.cameras[0] + " " + fmt(g.from) + " \u2192 " + fmt(g.to)); o.value = g.id;
          o.setAttribute("data-camera", g.cameras[0]); o.setAttribute("data-from", g.from); o.setAttribute("data-to", g.to); sel.appendChild(o);
        });
      }).catch(fail);
      api("GET", "/api/v1/exports").then(function (xs) {
        var tb = $("export-table").tBodies[0]; clear(tb);
        xs.forEach(function (x) {
          var tr = el("tr");
          [x.id, x.camera, fmt(x.from) + " \u2192 " + fmt(x.to), x.state + (x.error ? ": " + x.error : ""), Math.round(x.progress * 100) + "%"].forEach(function (v) { tr.appendChild(el("td", v)); });
          var td = el("td");
          if (x.state === "done") {
            ["mp4", "manifest"].forEach(function (p) { var a = el("a", p === "mp4" ? "Download MP4" : "Signed manifest"); a.href = "/api/v1/exports/" + x.id + "/" + p; td.appendChild(a); td.appendChild(document.createTextNode(" ")); });
          }
          tr.appendChild(td); tb.appendChild(tr);
        });
      }).catch(fail);
    }
    $("export-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var o = $("export-grant").selectedOptions[0]; if (!o) { return; }
      api("POST", "/api/v1/exports", { grant: o.value, camera: o.getAttribute("data-camera"), from: o.getAttribute("data-from"), to: o.getAttribute("data-to") })
        .then(function () { say("Export started.", true); load(); }).catch(fail);
    });
    load();
    setInterval(load, 3000);
  };

  pages.decommission = function () {
    function load() {
      api("GET", "/api/v1/grants/mine").then(function (gs) {
        var sel = $("decom-grant"); clear(sel);
        gs.filter(function (g) { return g.action === "decommission"; }).forEach(function (g) {
          var o = el("option", g.id + " \u2014 " + g.state); o.value = g.id; o.disabled = g.state !== "approved"; sel.appendChild(o);
        });
      }).catch(fail);
    }
    $("decom-request").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/api/v1/decommission/request", { purpose: this.elements.purpose.value, validity_hours: 4 })
        .then(function (g) { say("Decommission request " + g.id + " sent; an approver must approve it.", true); load(); }).catch(fail);
    });
    $("decom-run").addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!window.confirm("This destroys the keys and all footage. Continue?")) { return; }
      api("POST", "/api/v1/decommission", formJSON(this)).then(function () { say("Device wiped; the certificate was downloaded.", true); }).catch(fail);
    });
    load();
  };

  pages.account = function () {
    $("password-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      api("POST", "/api/v1/account/password", formJSON(this)).then(function () {
        say("Password changed.", true);
        ev.target.reset();
        if (me && me.must_change) { window.location.href = "/"; } // the one-time password is gone: on to the dashboard
      }).catch(fail);
    });
  };

  Array.prototype.forEach.call(document.querySelectorAll("[data-nav]"), function (a) {
    if (a.getAttribute("href") === window.location.pathname) { a.classList.add("active"); }
  });
  api("GET", "/api/v1/me").then(function (m) {
    me = m;
    if (pages[page]) { pages[page](); }
    root.setAttribute("data-ready", "1");
  }).catch(fail);
})();
