// The console's small progressive enhancement: without it every page
// still works (plain forms and links); with it the visitor log and the
// on-site list update live over Server-Sent Events. An element marked
// data-live names the stream; each "rows" event replaces the inside of
// its data-target, and data-state names the status line (hidden until
// the script runs, since without the script nothing is live).
(function () {
  "use strict";
  function startLive(el) {
    var target = document.getElementById(el.dataset.target);
    var state = document.getElementById(el.dataset.state);
    if (!target || !window.EventSource) { return; }
    if (state) { state.hidden = false; }
    var es = new EventSource(el.dataset.live);
    es.addEventListener("rows", function (ev) {
      target.innerHTML = ev.data;
      if (window.htmx) { window.htmx.process(target); }
      if (state) { state.dataset.state = "live"; state.textContent = "Live"; }
    });
    es.addEventListener("open", function () {
      if (state) { state.dataset.state = "live"; state.textContent = "Live"; }
    });
    es.addEventListener("error", function () {
      if (state) { state.dataset.state = "down"; state.textContent = "Reconnecting…"; }
    });
  }
  function init() {
    document.querySelectorAll("[data-live]").forEach(startLive);
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else { init(); }
})();

// Forms marked data-json-action post their fields as JSON to the JSON API
// (the Displays page's pairing actions) and show its error message next
// to the field it names, keeping what was typed.
(function () {
  "use strict";
  function show(form, field, msg) {
    var el = form.querySelector('[data-error-for="' + field + '"]') || form.querySelector('[data-error-for=""]');
    if (!el) { window.alert(msg); return; }
    el.textContent = msg; el.hidden = false;
  }
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.dataset || !form.dataset.jsonAction) { return; }
    ev.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { return; }
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    var body = {};
    new FormData(form).forEach(function (v, k) { body[k] = v; });
    fetch(form.dataset.jsonAction, {
      method: form.dataset.method || "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      if (resp.ok) { window.location.reload(); return; }
      return resp.json().then(function (e) {
        var msg = (e && e.message) || "The request failed.";
        var field = "";
        ["user_code", "location_id", "name"].forEach(function (f) {
          if (msg.toLowerCase().indexOf(f.replace("_id", "").replace("_", " ")) >= 0 && form.querySelector('[data-error-for="' + f + '"]')) { field = field || f; }
        });
        show(form, field, msg);
      }, function () { show(form, "", "The request failed (" + resp.status + ")."); });
    }, function () { show(form, "", "The server cannot be reached; nothing was changed."); });
  });
})();
