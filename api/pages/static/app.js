// Live updates without reloads: poll the JSON API every few seconds and patch the page.
// Elements opt in with data-poll="<api url>"; buttons with data-post="<api url>" act on click.
"use strict";

const POLL_MS = 4000;

function text(value, digits) {
  if (value === null || value === undefined) return "";
  return typeof value === "number" && digits ? value.toFixed(digits) : String(value);
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

function renderLeaderboard(table, board) {
  const body = table.tBodies[0];
  body.replaceChildren(...board.rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.submission = row.submission_id;
    const ci = row.ci_low === null ? "" : "[" + text(row.ci_low, 4) + ", " + text(row.ci_high, 4) + "]";
    const cells = [row.rank, row.team_name, text(row.score, 4), ci, row.tied_with_above ? "≈" : "",
                   row.submitted_at.replace("T", " ").slice(0, 19)];
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.appendChild(td);
    }
    return tr;
  }));
  if (board.rows.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    tr.innerHTML = '<td colspan="6">No scored submission yet.</td>';
    body.appendChild(tr);
  }
}

function renderSubmissions(table, page) {
  for (const s of page.data) {
    const row = table.querySelector('tr[data-id="' + s.id + '"]');
    if (!row) continue;
    const status = row.querySelector(".status");
    status.textContent = s.status + (s.failure_category ? " (" + s.failure_category + ")" : "");
    status.className = "status status-" + s.status;
    row.querySelector(".score").textContent = text(s.public_score, 4);
  }
}

function renderSubmission(element, s) {
  element.querySelector("#status").textContent = s.status;
}

function renderOverview(section, overview) {
  for (const item of overview.statuses) {
    const cell = section.querySelector('tr[data-status="' + item.status + '"] .count');
    if (cell) cell.textContent = item.count;
  }
}

const RENDERERS = {
  leaderboard: renderLeaderboard,
  submissions: renderSubmissions,
  submission: renderSubmission,
  queue: renderOverview,
};

function startPolling() {
  for (const element of document.querySelectorAll("[data-poll]")) {
    const render = RENDERERS[element.id];
    if (!render) continue;
    const tick = async () => {
      try { render(element, await getJSON(element.dataset.poll)); }
      catch (error) { console.warn(error); }
    };
    setInterval(tick, POLL_MS);
  }
}

function wireActions() {
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", async () => {
      let body = null;
      if (button.dataset.reason) {
        const reason = window.prompt("Reason for disqualification:");
        if (!reason) return;
        body = JSON.stringify({ reason });
      }
      const response = await fetch(button.dataset.post, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" }, body,
      });
      const result = document.getElementById("action-result");
      const payload = await response.json().catch(() => ({}));
      const message = response.ok ? "Done." : (payload.error ? payload.error.message : "Failed.");
      if (result) result.textContent = message; else window.alert(message);
      if (response.ok) window.location.reload();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => { startPolling(); wireActions(); });
