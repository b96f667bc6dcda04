// The live view of one workflow run: it follows the run's job over /ws and, on every `task:update`,
// shows the steps' states at once and fetches the run again for their outputs (model output as sanitised
// markdown, everything else as text). Cancel stops it; "Run again" starts a new run with the same inputs.
import { api, newKey, urlFor } from "kit/api";
import { FINISHED, setBadge } from "kit/badges";
import { el, jsonData, showError } from "kit/dom";
import { loadMarkdown, renderMarkdown } from "kit/markdown";
import { throttled } from "kit/poll";
import { TaskFollower } from "kit/tasks";
import { formatTime, localTimes } from "kit/time";
import { formatMs, percent } from "./common.js";

const root = document.getElementById("run-page");
const app = document.querySelector(".orch-app");
const $ = (id) => document.getElementById(id);
let run = jsonData("run-data");
let md = null;
let checklist = null; // the job's step states from the last update, newer than the run row while it runs
let lastStatus = run.status;

const TYPE_TEXT = { prompt: "Prompt", cross_validate: "Cross-validate", scrape: "Scrape", retrieve: "Retrieve",
  transform: "Transform", branch: "Branch" };
const STATE_TEXT = { pending: "waiting", running: "running", succeeded: "done", failed: "failed", skipped: "skipped", cancelled: "cancelled" };
const MARKDOWN_STEPS = new Set(["prompt", "cross_validate"]);

function stepState(step) {
  const stored = (run.outputs || {})[step.name] || {};
  const live = checklist ? checklist.find((c) => c.id === step.name) : null;
  // The row is written when a step ends; the update may say it is running before that.
  if (live && (!stored.status || (stored.status === "running" && live.status !== "running"))) {
    return { ...stored, status: live.status, completed_at: live.completed_at || stored.completed_at };
  }
  return { status: "pending", ...stored };
}

function detail(step, state) {
  const facts = el("dl", { class: "step-facts" });
  const add = (term, value) => {
    if (value == null || value === "") return;
    facts.append(el("div", { class: "fact" }, el("dt", { text: term }), el("dd", {}, value)));
  };
  if (step.type === "prompt") {
    add("Model", state.model);
    add("Latency", state.latency_ms != null ? formatMs(state.latency_ms) : null);
    add("Tokens", state.tokens != null ? String(state.tokens) : null);
    add("Flags", (state.flags || []).join(", "));
  } else if (step.type === "cross_validate") {
    add("Chosen", state.winner ? `Answer ${state.winner} · ${state.model || ""}` : null);
    add("Decided by", state.method);
    add("Confidence", state.confidence != null ? percent(state.confidence) : null);
    add("Agreement", state.agreement != null ? percent(state.agreement) : null);
    const task = (run.tasks || []).find((t) => t.step_name === step.name) || (state.task_id ? { id: state.task_id } : null);
    if (task) add("Answers and reviews", el("a", { href: urlFor(root.dataset.taskUrl, task.id), text: `Task #${task.id}` }));
  } else if (step.type === "scrape") {
    add("Page", state.title || null);
    add("URL", state.url || null);
  } else if (step.type === "retrieve") {
    add("Passages", state.count != null ? String(state.count) : null);
    add("Warnings", (state.warnings || []).join("; "));
  } else if (step.type === "transform") {
    add("Template", state.template || null);
  } else if (step.type === "branch") {
    add("Outcome", state.output ? `${state.output} → ${state.jump || "next"}` : null);
    add("Because", state.reason || null);
  }
  if (state.reason && step.type !== "branch") add("Note", state.reason);
  return facts.children.length ? facts : null;
}

function stepItem(step, index) {
  const state = stepState(step);
  const status = state.status || "pending";
  const statusBadge = el("span");
  setBadge(statusBadge, status === "skipped" ? "cancelled" : status);
  statusBadge.textContent = STATE_TEXT[status] || status;
  let output = null;
  if (state.output != null && state.output !== "" && step.type !== "branch") {
    output = MARKDOWN_STEPS.has(step.type)
      ? renderMarkdown(el("div", { class: "run-output" }), state.output, md)
      : el("div", { class: `run-output ${step.type === "transform" ? "plain-output" : "code preview-text"}`, text: String(state.output) });
  }
  const meta = [state.ms != null ? formatMs(state.ms) : null,
    state.completed_at && status !== "pending" ? formatTime(state.completed_at) : null].filter(Boolean).join(" · ");
  return el("li", { class: "run-step", "data-step": step.name, "data-status": status },
    el("div", { class: "run-step-head" },
      el("span", { class: "step-index", "aria-hidden": "true", text: String(index + 1) }),
      el("span", { class: "run-step-name" }, step.name, el("span", { class: "muted small", text: ` · ${TYPE_TEXT[step.type] || step.type}` })),
      meta ? el("span", { class: "muted small", text: meta }) : null,
      statusBadge),
    state.error || output || detail(step, state)
      ? el("div", { class: "run-step-body" },
        state.error ? el("p", { class: "form-error", text: state.error }) : null,
        detail(step, state), output)
      : null);
}

function progressText() {
  const value = run.status === "succeeded" ? 1 : Number(run.progress) || 0;
  switch (run.status) {
    case "pending": return "Queued, waiting for a worker…";
    case "running": return `Running… ${Math.round(value * 100)}%`;
    case "succeeded": return "Finished.";
    case "failed": return "Failed.";
    case "cancelled": return "Cancelled.";
    default: return run.status;
  }
}

function render() {
  setBadge($("run-status"), run.status);
  const finished = FINISHED.has(run.status);
  $("run-cancel").hidden = finished;
  if (finished) $("run-cancel").disabled = false;
  $("run-again").hidden = !finished;
  $("run-failed").hidden = run.status !== "failed";
  $("run-error-text").textContent = run.error || "";
  $("run-cancelled").hidden = run.status !== "cancelled";
  $("run-progress").value = run.status === "succeeded" ? 1 : Number(run.progress) || 0;
  $("run-progress-label").textContent = progressText();
  if (finished) $("run-connection").textContent = "";
  const inputs = Object.entries(run.inputs || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
  $("run-inputs-summary").textContent = inputs ? `Inputs: ${inputs}` : "No inputs";
  $("run-steps").replaceChildren(...(run.steps || []).map(stepItem));
  const result = run.result && run.status === "succeeded" ? run.result.output : null;
  $("run-result-card").hidden = result == null || result === "";
  if (result != null && result !== "") {
    const last = [...(run.steps || [])].reverse().find((s) => ((run.outputs || {})[s.name] || {}).status === "succeeded");
    $("run-result-from").textContent = last ? `from step ${last.name}` : "";
    if (last && MARKDOWN_STEPS.has(last.type)) renderMarkdown($("run-result"), String(result), md);
    else $("run-result").replaceChildren(el("div", { class: "plain-output", text: String(result) }));
  }
}

async function refetch() {
  const data = await api("GET", root.dataset.runApi);
  run = data.run;
  if (FINISHED.has(run.status)) checklist = null;
  render();
  if (run.status !== lastStatus && FINISHED.has(run.status)) {
    $("run-announce").textContent = `The run ${run.status === "succeeded" ? "finished" : run.status}.`;
    clearInterval(pollTimer);
  }
  lastStatus = run.status;
}

const scheduleRefetch = throttled(refetch, 400);
let pollTimer = null;

function onUpdate(state) {
  if (state.task_id !== run.job_id) return;
  checklist = state.subtasks || checklist;
  if (!FINISHED.has(run.status)) {
    run.progress = state.progress;
    if (!FINISHED.has(state.status)) run.status = state.status;
    render();
  }
  scheduleRefetch();
}

function onConnection(state) {
  const text = { open: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Not connected: reload the page" };
  if (!FINISHED.has(run.status)) $("run-connection").textContent = text[state] || "";
  if (state === "open") scheduleRefetch();
}

$("run-cancel").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showError($("run-action-error"), "");
  try {
    const data = await api("POST", root.dataset.cancelApi);
    run = { ...run, ...data.run };
    $("run-progress-label").textContent = "Cancelling… the run stops at its next step.";
    if (FINISHED.has(run.status)) render();
  } catch (error) {
    showError($("run-action-error"), error.message);
    button.disabled = false;
  }
});

const againKey = newKey();
$("run-again").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showError($("run-action-error"), "");
  try {
    const data = await api("POST", root.dataset.runsApi, { inputs: run.inputs || {} }, { headers: { "Idempotency-Key": againKey } });
    location.assign(urlFor(root.dataset.runUrl, data.run.id));
  } catch (error) {
    showError($("run-action-error"), error.message);
    button.disabled = false;
  }
});

localTimes(root);
render();
md = await loadMarkdown();
render();
if (!FINISHED.has(run.status)) {
  if (run.job_id) new TaskFollower(onUpdate, { onStatus: onConnection }).follow(run.job_id);
  pollTimer = setInterval(scheduleRefetch, run.job_id ? 5000 : 1500);
}
