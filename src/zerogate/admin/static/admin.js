// The admin console's one script (served by Zerogate: no CDN, works offline, no inline code).
// Buttons and forms with data-call send a JSON POST to the admin API, which audits the action
// before it answers; the decisions page follows the live feed; the overview keeps its numbers
// fresh. Text from the server is only ever set with textContent, never parsed as HTML.
"use strict";

(function () {
  const api = document.body.dataset.api;
  const status = document.getElementById("status");
  const ARM_MS = 4000; // a dangerous button asks for a second click within this time

  function say(text, kind) {
    if (!status) return;
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  async function post(path, body) {
    const response = await fetch(api + "/" + path, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const text = data && (data.message || data.error_description || data.error);
      const code = data && (data.code || data.error);
      throw new Error((text || response.statusText) + (code ? " [" + code + "]" : ""));
    }
    return data;
  }

  function done(result) {
    let text = "Done: " + result.action + " " + result.resource;
    if (typeof result.sessions_revoked === "number") {
      text += " (" + result.sessions_revoked + " session(s) revoked)";
    }
    text += ", audit entries #" + result.audit.intent + " and #" + result.audit.outcome + ".";
    say(text, "ok");
    setTimeout(function () { window.location.reload(); }, 700);
  }

  // Buttons: the first click arms (the label asks to confirm), the second one acts.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-call]");
    if (!button) return;
    event.preventDefault();
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.dataset.label = button.textContent;
      button.textContent = "Confirm";
      button.title = button.dataset.confirm || "";
      say((button.dataset.confirm || "Are you sure?") + " Click Confirm to go ahead.");
      setTimeout(function () {
        if (button.dataset.armed) {
          delete button.dataset.armed;
          button.textContent = button.dataset.label;
        }
      }, ARM_MS);
      return;
    }
    delete button.dataset.armed;
    button.disabled = true;
    try {
      done(await post(button.dataset.call, {}));
    } catch (error) {
      say("Not done: " + error.message, "error");
      button.textContent = button.dataset.label;
      button.disabled = false;
    }
  });

  // Forms: one text field, sent as {field: value}.
  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form[data-call]");
    if (!form) return;
    event.preventDefault();
    const field = form.dataset.field;
    const input = form.elements.namedItem(field);
    const body = {};
    body[field] = input.value.trim();
    try {
      done(await post(form.dataset.call, body));
    } catch (error) {
      say("Not done: " + error.message, "error");
    }
  });

  // The live decision feed.
  const feed = document.getElementById("feed");
  if (feed) {
    const rows = feed.tBodies[0];
    let after = Number(feed.dataset.latest || 0);
    const only = document.getElementById("only-denied");
    if (only) {
      only.addEventListener("change", function () {
        feed.classList.toggle("only-denied", only.checked);
      });
    }

    function cell(label, parts) {
      const td = document.createElement("td");
      td.dataset.label = label;
      for (const part of parts) td.appendChild(part);
      return td;
    }
    function text(value, tag, cls) {
      const el = document.createElement(tag || "span");
      if (cls) el.className = cls;
      el.textContent = value;
      return el;
    }
    function row(e) {
      const tr = document.createElement("tr");
      tr.className = "verdict-" + e.verdict + " fresh";
      tr.dataset.verdict = e.verdict;
      const when = text(e.at.slice(11, 19), "time");
      when.setAttribute("datetime", e.at);
      tr.appendChild(cell("Time", [when]));
      tr.appendChild(cell("Verdict", [text(e.verdict, "span", "badge " + e.verdict),
        document.createTextNode(" "), text(String(e.status), "span", "hint")]));
      tr.appendChild(cell("Who", [text(e.principal || "(no identity)")]));
      tr.appendChild(cell("Request", [document.createTextNode(e.action + " "),
        text(e.route || "(no route)", "code")]));
      const why = [text(e.reason, "code")];
      if (e.policies.length) {
        why.push(document.createTextNode(" by "));
        e.policies.forEach(function (p, i) {
          if (i) why.push(document.createTextNode(", "));
          why.push(text(p, "code"));
        });
      }
      if (e.explanation) why.push(text(e.explanation, "div", "why"));
      tr.appendChild(cell("Why", why));
      tr.appendChild(cell("Decision id", [text(e.decision_id, "code")]));
      return tr;
    }

    async function poll() {
      try {
        const response = await fetch(api + "/decisions?after=" + after + "&limit=200", {
          headers: { accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.status === 401 || response.status === 403) {
          say("The console no longer lets this session in: reload to sign in again.", "error");
          return; // stop following
        }
        if (response.ok) {
          const page = await response.json();
          for (const entry of page.entries) rows.insertBefore(row(entry), rows.firstChild);
          after = page.latest;
          while (rows.rows.length > 300) rows.deleteRow(-1);
        }
      } catch (error) {
        // a network hiccup: the next round tries again
      }
      setTimeout(poll, 1000);
    }
    setTimeout(poll, 1000);
  }

  // The overview's numbers.
  const tiles = document.querySelector("[data-overview]");
  if (tiles) {
    const shown = {
      decisions_per_s: function (r) { return r.decisions_per_s === null ? "–" : r.decisions_per_s.toFixed(2); },
      deny_ratio: function (r) { return r.deny_ratio === null ? "–" : (r.deny_ratio * 100).toFixed(1) + " %"; },
      p95_latency_ms: function (r) { return r.p95_latency_ms === null ? "–" : r.p95_latency_ms.toFixed(2) + " ms"; },
      window_s: function (r) { return r.window_s === null ? "–" : r.window_s.toFixed(0); },
      decisions_total: function (r) { return String(r.decisions_total); },
    };
    async function refresh() {
      try {
        const response = await fetch(api + "/overview", {
          headers: { accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) {
          const data = await response.json();
          for (const el of document.querySelectorAll("[data-field]")) {
            const name = el.dataset.field;
            if (name in shown) el.textContent = shown[name](data.rates);
            else if (name === "active_sessions") el.textContent = String(data.active_sessions);
          }
        }
      } catch (error) {
        // try again next round
      }
      setTimeout(refresh, 5000);
    }
    setTimeout(refresh, 5000);
  }
})();
