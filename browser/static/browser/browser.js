// The browser page: start a scrape or an automation through the JSON API, follow the job live
// over /ws (`task:*`), and keep the history table current. No HTML from the server is parsed.
import { postJSON, urlFor } from "kit/api";
import { FINISHED, badge, setBadge } from "kit/badges";
import { el, showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { initTabs } from "kit/tabs";
import { TaskFollower } from "kit/tasks";
import { formatTime } from "kit/time";
import { progressText, subtaskItems } from "./progress.js";

const root = document.getElementById("browser-app");
const $ = (id) => document.getElementById(id);
const KIND_TEXT = { "browser.scrape": "Scrape", "browser.automate": "Automation" };

let currentId = null;
const follower = new TaskFollower(onUpdate);

/* ---------- Tabs ---------- */

const tabs = initTabs(root.querySelector('[role="tablist"]'), {
  onSelect: (tab) => history.replaceState(null, "", tab.id === "tab-automate" ? "#automate" : location.pathname + location.search),
});
if (location.hash === "#automate") tabs.select($("tab-automate"));

/* ---------- Forms ---------- */

function intValue(input) {
  const value = input.value.trim();
  if (!value) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) throw new Error(`${input.labels[0].textContent.trim()}: give a whole number`);
  return number;
}

function scrapeBody() {
  const url = $("scrape-url").value.trim();
  if (!url) throw new Error("Give the address of a page, e.g. https://example.com/");
  const options = {
    screenshot: $("scrape-screenshot").checked,
    pdf: $("scrape-pdf").checked,
    javascript: $("scrape-javascript").checked,
    wait_until: $("scrape-wait-until").value,
  };
  const selector = $("scrape-wait-selector").value.trim();
  if (selector) options.wait_for_selector = selector;
  const width = intValue($("scrape-width"));
  const height = intValue($("scrape-height"));
  if (width !== undefined || height !== undefined) options.viewport = { width: width ?? 1280, height: height ?? 800 };
  const timeout = intValue($("scrape-timeout"));
  if (timeout !== undefined) options.timeout_s = timeout;
  return { url, options };
}

/** Where a script stops being JSON, in words (the parser's own message names tokens and character offsets). */
function jsonProblem(text, error) {
  const at = /position (\d+)/.exec(error.message || "");
  let where = "";
  if (at) {
    const before = text.slice(0, Number(at[1]));
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    where = ` at line ${line}, column ${column}`;
  } else if (/end of (JSON|data) input/i.test(error.message || "")) {
    where = " at its end";
  }
  return `The script is not valid JSON${where}: look there for a missing comma, quote or bracket, or one too many. ` +
    "It should be a list of steps like the example.";
}

function automateBody() {
  const text = $("automate-script").value.trim();
  if (!text) throw new Error("Write a script: a JSON list of steps (see the example).");
  let script;
  try {
    script = JSON.parse(text);
  } catch (error) {
    throw new Error(jsonProblem(text, error));
  }
  // A bare list of steps, or {steps, options} as the API takes it.
  const steps = Array.isArray(script) ? script : script && script.steps;
  const options = (!Array.isArray(script) && script && script.options) || {};
  const timeout = intValue($("automate-timeout"));
  if (timeout !== undefined && options.timeout_s === undefined) options.timeout_s = timeout;
  const body = { steps, options };
  const title = $("automate-title").value.trim();
  if (title) body.title = title;
  return body;
}

async function submit(form, errorNode, url, buildBody) {
  const button = form.querySelector('button[type="submit"]');
  showError(errorNode, "");
  let body;
  try {
    body = buildBody();
  } catch (error) {
    showError(errorNode, error.message);
    return;
  }
  button.disabled = true;
  try {
    const data = await postJSON(url, body);
    startFollowing(data.job);
  } catch (error) {
    showError(errorNode, error.message);
  } finally {
    button.disabled = false;
  }
}

$("scrape-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit(event.target, $("scrape-error"), root.dataset.scrapeUrl, scrapeBody);
});
$("automate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit(event.target, $("automate-error"), root.dataset.automateUrl, automateBody);
});
const exampleScript = $("automate-script").defaultValue;
$("automate-reset").addEventListener("click", () => {
  $("automate-script").value = exampleScript;
  showError($("automate-error"), "");
  $("automate-script").focus();
});

/* ---------- The current job ---------- */

function startFollowing(job) {
  currentId = job.task_id;
  const panel = $("current-job");
  panel.hidden = false;
  $("current-job-link").href = job.url;
  renderCurrent(job);
  upsertHistoryRow(job);
  panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
  follower.follow(job.task_id);
}

function renderCurrent(state) {
  $("current-job-title").textContent = state.title || `Job ${state.task_id}`;
  setBadge($("current-job-status"), state.status);
  $("current-job-progress").value = state.status === "succeeded" ? 1 : Number(state.progress) || 0;
  $("current-job-progress-label").textContent = progressText(state);
  $("current-job-subtasks").replaceChildren(...subtaskItems(state.subtasks));
  const finished = FINISHED.has(state.status);
  const cancel = $("current-job-cancel");
  cancel.hidden = finished;
  if (finished) cancel.disabled = false;
  const link = $("current-job-link");
  link.hidden = !finished;
  link.textContent = state.status === "succeeded" ? "View the result" : "Open the job";
  const error = state.status === "failed" ? state.error || "The job failed." : "";
  showError($("current-job-error"), error);
}

$("current-job-cancel").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (currentId == null) return;
  button.disabled = true;
  $("current-job-progress-label").textContent = "Cancelling…";
  try {
    const data = await postJSON(urlFor(root.dataset.cancelApi, currentId));
    onUpdate(data.job);
  } catch (error) {
    showError($("current-job-error"), error.message);
    button.disabled = false;
  }
});

/* ---------- History ---------- */

function historyRow(job) {
  const link = el("a", { href: job.url, text: job.title || `Job ${job.task_id}` });
  return el("tr", { "data-job-id": String(job.task_id), "data-status": job.status },
    el("td", { "data-label": "Job", class: "cell-strong cell-title" }, link),
    el("td", { "data-label": "Kind", text: KIND_TEXT[job.kind] || job.kind }),
    el("td", { "data-label": "Status" }, badge(job.status)),
    el("td", { "data-label": "Created" },
      el("time", { dateTime: job.created_at || "", text: job.created_at ? formatTime(job.created_at) : "just now" })),
    el("td", { class: "cell-actions" },
      el("a", { class: "btn btn-ghost btn-sm", href: job.url, text: "Open",
        "aria-label": `Open job ${job.task_id}: ${job.title || ""}` })));
}

function upsertHistoryRow(job) {
  const body = $("history-rows");
  const existing = body.querySelector(`tr[data-job-id="${Number(job.task_id)}"]`);
  if (existing) {
    updateHistoryRow(existing, job);
    return;
  }
  body.prepend(historyRow(job));
  $("history-wrap").hidden = false;
  $("history-empty").hidden = true;
}

function updateHistoryRow(row, state) {
  row.dataset.status = state.status;
  const cell = row.querySelector('td[data-label="Status"]');
  const node = cell.querySelector(".badge") || cell.appendChild(el("span"));
  setBadge(node, state.status);
}

function onUpdate(state) {
  if (state.task_id === currentId) renderCurrent(state);
  const row = $("history-rows").querySelector(`tr[data-job-id="${Number(state.task_id)}"]`);
  if (row) updateHistoryRow(row, state);
}

for (const time of document.querySelectorAll("time[data-local]")) time.textContent = formatTime(time.dateTime);

// Jobs still queued or running when the page was loaded keep their history row current too.
for (const row of $("history-rows").querySelectorAll("tr[data-job-id]")) {
  if (!FINISHED.has(row.dataset.status)) follower.follow(row.dataset.jobId);
}
scriptReady();
