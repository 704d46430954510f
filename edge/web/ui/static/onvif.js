// edgerec LAN page: "Find cameras on the LAN (ONVIF)" on the cameras page
// (issue 18). Lists what WS-Discovery found; for a picked camera with its
// credentials reads device information, profiles and stream addresses and
// fills in the camera form's source URL (credentials added here, moved into
// the device's vault when the camera is saved). No inline script (CSP);
// text goes in through textContent only. The password is sent once, to
// POST /api/v1/onvif/setup, and never shown back.
(function () {
  "use strict";
  var card = document.getElementById("onvif-card");
  if (!card) { return; }
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function api(method, path, body) {
    var opt = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
    return fetch(path, opt).then(function (r) {
      if (r.status === 401) { window.location.assign("/"); throw new Error("signed out"); }
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.error || ("HTTP " + r.status)); }
        return j;
      }, function () { throw new Error("HTTP " + r.status); });
    });
  }
  // withCredentials puts user:password into an rtsp:// address.
  function withCredentials(uri, user, pass) {
    var m = /^(rtsps?:\/\/)(.*)$/.exec(uri);
    if (!m || !user) { return uri; }
    return m[1] + encodeURIComponent(user) + ":" + encodeURIComponent(pass) + "@" + m[2];
  }
  api("GET", "/api/v1/me").then(function (me) {
    if (me.permissions.indexOf("cameras.manage") >= 0) { card.classList.remove("hidden"); }
  }).catch(function () {});

  var form = $("onvif-form");
  function pick(xaddr) {
    form.classList.remove("hidden");
    $("onvif-xaddr").value = xaddr;
    $("onvif-user").focus();
  }
  $("onvif-discover").addEventListener("click", function () {
    var btn = this, list = $("onvif-found");
    btn.disabled = true;
    $("onvif-status").textContent = "Searching\u2026";
    api("GET", "/api/v1/onvif/discover").then(function (r) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      $("onvif-status").textContent = r.found.length + " camera(s) answered in " + (r.took_ms / 1000).toFixed(1) + " s" +
        (r.ignored ? " (" + r.ignored + " unusable answers ignored)" : "") + ". Not listed? Type its address below.";
      r.found.forEach(function (f) {
        var li = el("li", null, "onvif-found");
        li.setAttribute("data-xaddr", f.xaddrs[0]);
        li.appendChild(el("strong", f.name || f.hardware || f.endpoint));
        li.appendChild(el("span", " " + f.xaddrs[0] + (f.hardware ? " \u00b7 " + f.hardware : "") + (f.added_as ? " \u00b7 already added as " + f.added_as : ""), "muted"));
        var b = el("button", "Pick", "small");
        b.type = "button";
        b.addEventListener("click", function () { pick(f.xaddrs[0]); });
        li.appendChild(b);
        list.appendChild(li);
      });
      form.classList.remove("hidden");
    }).catch(function (e) { $("onvif-status").textContent = e.message; form.classList.remove("hidden"); })
      .then(function () { btn.disabled = false; });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var user = $("onvif-user").value, pass = $("onvif-pass").value;
    $("onvif-result").textContent = "Reading the camera\u2026";
    api("POST", "/api/v1/onvif/setup", { xaddr: $("onvif-xaddr").value, username: user, password: pass, set_clock: $("onvif-clock").checked }).then(function (r) {
      var cf = document.getElementById("camera-form");
      if (cf) {
        cf.elements.source.value = withCredentials(r.source, user, pass);
        if (cf.elements.name && !cf.elements.name.value) { cf.elements.name.value = (r.device.manufacturer + " " + r.device.model).trim(); }
      }
      $("onvif-sub").value = r.sub_source || "(no sub stream)";
      if (cf && cf.elements.sub_source && r.sub_source) { // the user name only: the camera's password applies
        var sm = /^(rtsps?:\/\/)(.*)$/.exec(r.sub_source);
        cf.elements.sub_source.value = sm && user ? sm[1] + encodeURIComponent(user) + "@" + sm[2] : r.sub_source;
      }
      var d = r.device, m = r.main.profile;
      var clock = r.clock.set ? "clock set (was " + Math.round(r.clock.offset_secs) + " s off)" :
        (r.clock.note || "clock " + Math.round(r.clock.offset_secs) + " s off, left as it is");
      $("onvif-result").textContent = d.manufacturer + " " + d.model + ", firmware " + d.firmware + ", serial " + d.serial +
        " \u2014 main " + m.encoding + " " + m.width + "\u00d7" + m.height + " @ " + m.fps + " fps" +
        (r.sub ? ", sub " + r.sub.profile.width + "\u00d7" + r.sub.profile.height : "") + " \u2014 " + clock +
        ". The source URL below is filled in; choose an id and zone and save.";
      $("onvif-pass").value = "";
    }).catch(function (e) { $("onvif-result").textContent = e.message; });
  });
})();
