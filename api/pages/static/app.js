// Live updates without reloads: poll the JSON API every few seconds and patch the page.
// Elements opt in with data-poll="<api url>"; buttons with data-post="<api url>" act on click;
// <time datetime> shows in the viewer's time zone; [data-until] counts down to a moment.
// States and stages arrive as slugs: WORDS (the page's #words data attribute, api/pages/words.py)
// turns them into what the page shows. Destructive buttons and forms ask in a styled dialog
// (data-confirm, data-confirm-yes/-no; data-reason asks for a reason) and say what happened.
"use strict";

const POLL_MS = 3000;
const FLASH_KEY = "unlearn-flash";

function loadWords() {
  const block = document.getElementById("words");
  try { return block ? JSON.parse(block.dataset.words) : {}; } catch (error) { return {}; }
}
const WORDS = loadWords();

function word(table, slug) {
  const known = (WORDS[table] || {})[slug];
  return known !== undefined ? known : String(slug || "").replace(/[_-]+/g, " ");
}

function statusText(status, category) {
  return word("status", status) + (category ? ": " + word("failure", category) : "");
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const whole = Math.max(0, Math.round(seconds));
  const d = Math.floor(whole / 86400), h = Math.floor((whole % 86400) / 3600);
  const m = Math.floor((whole % 3600) / 60), s = whole % 60;
  if (d) return d + " d " + h + " h";
  if (h) return h + " h " + String(m).padStart(2, "0") + " min";
  if (m) return m + " min " + String(s).padStart(2, "0") + " s";
  return s + " s";
}

function localTimes() {
  // dateStyle cannot be combined with timeZoneName: name the parts instead.
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  for (const element of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (!isNaN(moment)) { element.title = element.getAttribute("datetime"); element.textContent = format.format(moment); }
  }
}

function countdowns() {
  const elements = document.querySelectorAll("[data-until]");
  const tick = () => {
    for (const element of elements) {
      element.textContent = duration((new Date(element.dataset.until) - Date.now()) / 1000);
    }
  };
  tick();
  if (elements.length) setInterval(tick, 1000);
}

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
    const score = text(row.score, 4) +
      (row.provisional_runs === null ? "" : " provisional, N=" + row.provisional_runs);
    const cells = [row.rank, row.team_name, score, ci, row.tied_with_above ? "≈" : "",
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
    status.textContent = statusText(s.status, s.failure_category);
    status.className = "status status-" + s.status;
    row.querySelector(".score").textContent = text(s.public_score, 4);
  }
}

function renderProgress(element, p) {
  const status = element.querySelector("#status");
  status.textContent = word("status", p.status);
  status.className = "status status-" + p.status;
  element.querySelector("#stage").textContent = p.terminal ? "" : " · " + p.stage;
  const allDone = p.splits.length > 0 && p.splits.every((s) => s.runs_done >= s.runs_total);
  for (const split of p.splits) {
    const bar = document.getElementById("progress-" + split.split);
    if (bar) { bar.max = split.runs_total; bar.value = split.runs_done; }
    const label = document.getElementById("runs-" + split.split);
    if (label) label.textContent = split.runs_done + " of " + split.runs_total + " runs";
  }
  element.querySelector("#elapsed").textContent = duration(p.elapsed_s);
  element.querySelector("#remaining").textContent = p.terminal ? "–"
    : (allDone ? "scoring, nearly done"
      : (p.remaining_s === null ? "estimated after the first runs" : duration(p.remaining_s)));
  // A finished evaluation brings its report, plots and logs: load them once.
  if (p.terminal && element.dataset.terminal !== "true") window.location.reload();
}

function renderOverview(section, overview) {
  for (const item of overview.statuses) {
    const cell = section.querySelector('tr[data-status="' + item.status + '"] .count');
    if (cell) cell.textContent = item.count;
  }
}

function renderPreparation(section, p) {
  for (const split of p.splits) {
    const item = document.getElementById("prep-" + split.split);
    if (!item) continue;
    const detail = split.state === "preparing" && split.total
      ? " · " + word("stage", split.stage) + ", step " + split.done + " of " + split.total : "";
    item.querySelector(".prep-split-state").textContent = word("preparation", split.state) + detail;
  }
  // A change of the phase's state changes what the page says and offers: load it again.
  if (p.state !== section.dataset.state) window.location.reload();
}

const RENDERERS = {
  preparation: renderPreparation,
  leaderboard: renderLeaderboard,
  submissions: renderSubmissions,
  progress: renderProgress,
  queue: renderOverview,
};

function startPolling() {
  for (const element of document.querySelectorAll("[data-poll]")) {
    const render = RENDERERS[element.id];
    // A finished evaluation's page has nothing left to follow.
    if (!render || element.dataset.terminal === "true") continue;
    let timer = null;
    const tick = async () => {
      try {
        const data = await getJSON(element.dataset.poll);
        render(element, data);
        if (data.terminal === true) clearInterval(timer);
      } catch (error) { console.warn(error); }
    };
    timer = setInterval(tick, POLL_MS);
  }
}

// A modal dialog instead of confirm()/prompt(): resolves to {ok, reason}.
function ask({ message, yes, no, reason }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-message");
    const form = document.createElement("form");
    form.method = "dialog";
    const text = document.createElement("p");
    text.id = "confirm-message";
    text.textContent = message;
    form.appendChild(text);
    let field = null;
    if (reason) {
      const label = document.createElement("label");
      label.htmlFor = "confirm-reason";
      label.textContent = reason;
      field = document.createElement("textarea");
      field.id = "confirm-reason";
      field.required = true;
      field.maxLength = 500;
      form.append(label, field);
    }
    const buttons = document.createElement("p");
    buttons.className = "buttons";
    const ok = document.createElement("button");
    ok.type = "submit";
    ok.value = "yes";
    ok.id = "confirm-yes";
    ok.textContent = yes || "Yes";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "secondary";
    cancel.id = "confirm-no";
    cancel.textContent = no || "Cancel";
    buttons.append(ok, cancel);
    form.appendChild(buttons);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    let answer = { ok: false, reason: "" };
    form.addEventListener("submit", () => { answer = { ok: true, reason: field ? field.value.trim() : "" }; });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
    dialog.showModal();
    (field || cancel).focus();
  });
}

function flash(message) {
  try { sessionStorage.setItem(FLASH_KEY, message); } catch (error) { /* private mode */ }
}

function showFlash() {
  // A server notice (?notice=...) is said once: a reload of the page does not repeat it.
  const url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  let message = null;
  try { message = sessionStorage.getItem(FLASH_KEY); sessionStorage.removeItem(FLASH_KEY); }
  catch (error) { return; }
  const region = document.getElementById("flash");
  if (message && region) { region.textContent = message; region.hidden = false; }
}

function wireActions() {
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", async () => {
      let body = null;
      if (button.dataset.confirm || button.dataset.reason) {
        const answer = await ask({
          message: button.dataset.confirm || "Are you sure?",
          yes: button.dataset.confirmYes, no: button.dataset.confirmNo,
          reason: button.dataset.reason ? "Reason (the team reads it)" : null,
        });
        if (!answer.ok || (button.dataset.reason && !answer.reason)) return;
        if (button.dataset.reason) body = JSON.stringify({ reason: answer.reason });
      }
      button.disabled = true;
      const response = await fetch(button.dataset.post, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" }, body,
      }).catch(() => null);
      button.disabled = false;
      const payload = response ? await response.json().catch(() => ({})) : {};
      const ok = response !== null && response.ok;
      const message = ok ? (button.dataset.done || "Done.")
        : (payload.error ? payload.error.message : "The site could not be reached; try again.");
      if (ok) { flash(message); window.location.reload(); return; }
      const result = document.getElementById("action-result");
      if (result) { result.textContent = message; result.className = "error"; }
      else window.alert(message);
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", async (event) => {
      if (form.dataset.confirmed === "yes") return;
      event.preventDefault();
      const answer = await ask({
        message: form.dataset.confirm, yes: form.dataset.confirmYes, no: form.dataset.confirmNo,
      });
      if (answer.ok) { form.dataset.confirmed = "yes"; form.requestSubmit(); }
    });
  }
}

// Sign-up: show the new team's name or the join code, whichever the chosen radio needs
// (without scripts both stay shown, and the server reads the one that matches the choice).
function teamChoice() {
  const radios = document.querySelectorAll('input[name="team_choice"]');
  const name = document.getElementById("team_name")?.closest(".field");
  const code = document.getElementById("join_code")?.closest(".field");
  if (!radios.length || !name || !code) return;
  const update = () => {
    const joining = document.getElementById("team-join").checked;
    name.hidden = joining;
    code.hidden = !joining;
  };
  radios.forEach((radio) => radio.addEventListener("change", update));
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  // One part failing (an old browser) must not stop the others.
  for (const start of [showFlash, localTimes, countdowns, startPolling, wireActions, teamChoice]) {
    try { start(); } catch (error) { console.warn(error); }
  }
});
