// JARVIS dashboard: small progressive enhancements. Every page works without this file.
"use strict";

(function () {
  // The gym switcher applies as soon as a gym is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Forms that change something irreversible ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  function toast(text, href) {
    var box = document.getElementById("live");
    if (!box) { return; }
    var item = document.createElement("div");
    item.className = "toast";
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = text;
      item.appendChild(link);
    } else {
      item.textContent = text;
    }
    box.appendChild(item);
    window.setTimeout(function () { item.remove(); }, 8000);
  }

  function rowFrom(html) {
    var table = document.createElement("tbody");
    table.innerHTML = html.trim();
    return table.firstElementChild;
  }

  // Live updates (server-sent events): alerts and kiosks as this person may see them.
  var source = document.body.getAttribute("data-live");
  if (source && window.EventSource) {
    var events = new EventSource(source);
    events.addEventListener("ready", function () { document.body.setAttribute("data-live-ready", "1"); });
    events.addEventListener("alert", function (message) {
      var data = JSON.parse(message.data);
      var existing = document.getElementById("alert-" + data.id);
      var list = document.getElementById("alerts-live");
      if (existing) {
        existing.replaceWith(rowFrom(data.html));
      } else if (list && (data.status === "pending" || data.status === "in_progress")) {
        list.prepend(rowFrom(data.html));
        var empty = document.getElementById("alerts-empty");
        if (empty) { empty.remove(); }
      }
      if (!existing) { toast("New alert (" + data.priority + "): " + data.title, "/dashboard/alerts/" + data.id); }
    });
    events.addEventListener("kiosk", function (message) {
      var data = JSON.parse(message.data);
      var existing = document.getElementById("kiosk-" + data.id);
      var kiosks = document.getElementById("kiosks-live");
      if (existing) {
        existing.replaceWith(rowFrom(data.html));
      } else if (kiosks) {
        kiosks.appendChild(rowFrom(data.html));
      }
      var detail = document.querySelector("[data-kiosk-status='" + data.id + "']");
      if (detail) { detail.textContent = data.status; detail.className = "pill status-" + data.status; }
      toast("Kiosk " + data.title + " is " + data.status);
    });
  }

  // Member import: follow the running import's progress.
  var progress = document.querySelector("[data-import-progress]");
  if (progress) {
    var url = progress.getAttribute("data-import-progress");
    var poll = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (state) {
        progress.max = state.total || 1;
        progress.value = state.done;
        var label = document.getElementById("import-progress-label");
        if (label) { label.textContent = state.message; }
        if (state.finished) { window.location.href = state.result_url; } else { window.setTimeout(poll, 500); }
      }).catch(function () { window.setTimeout(poll, 2000); });
    };
    poll();
  }
})();
