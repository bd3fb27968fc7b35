// Live policy preview of the tool request form: POSTs the draft fields to
// /api/tool-requests/preview/ whenever the form changes and shows the checks.
(function () {
  "use strict";
  var form = document.getElementById("request-form");
  if (!form) return;
  var list = document.getElementById("policy-checks");
  var fast = document.getElementById("fast-track");
  var timer = null;
  var seq = 0;

  function value(name) {
    var el = form.elements[name];
    return el && el.value ? el.value.trim() : "";
  }

  function payload() {
    var data = { factory: value("factory") };
    if (value("tool")) {
      data.tool = value("tool");
    } else if (value("proposed_name")) {
      data.proposed_tool = {
        name: value("proposed_name"),
        vendor: value("proposed_vendor"),
        homepage: value("proposed_homepage")
      };
    }
    if (value("capability")) data.capability = value("capability");
    if (value("seats")) data.seats = parseInt(value("seats"), 10);
    if (value("estimated_annual_cost")) data.estimated_annual_cost = value("estimated_annual_cost");
    return data;
  }

  function render(checks, fastTrack) {
    list.textContent = "";
    checks.forEach(function (c) {
      var li = document.createElement("li");
      li.className = "check check-" + c.result;
      li.dataset.check = c.check;
      var badge = document.createElement("span");
      badge.className = "status status-" + c.result;
      badge.textContent = c.result;
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" " + c.message));
      list.appendChild(li);
    });
    fast.hidden = !fastTrack;
  }

  function refresh() {
    var data = payload();
    if (!data.factory || (!data.tool && !data.proposed_tool)) return;
    var mine = ++seq;
    fetch(form.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRFToken": form.elements.csrfmiddlewaretoken.value
      },
      body: JSON.stringify(data)
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && mine === seq) render(body.checks, body.fast_track);
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  form.addEventListener("change", later);
  form.addEventListener("input", later);
  refresh();
})();
