// The live view of one task. It subscribes to the task's job over /ws (`task:subscribe` with the job id)
// and, on every `task:update`, moves the progress bar and the step list at once and fetches the task again
// (at most a few times a second) for what the update does not carry: the answers side by side, the reviews,
// the agreement matrix, the decision and the final answer. Model output is markdown sanitised by DOMPurify;
// everything else goes in as text.
import { api, urlFor } from "kit/api";
import { FINISHED, setBadge } from "kit/badges";
import { confirmDialog } from "kit/confirm";
import { el, icon, jsonData, showError } from "kit/dom";
import { loadMarkdown, renderMarkdown } from "kit/markdown";
import { throttled } from "kit/poll";
import { scriptReady } from "kit/ready";
import { TaskFollower } from "kit/tasks";
import { localTimes } from "kit/time";
import { STRATEGY_TEXT, formatMs, percent, scoreLevel, slotLabel } from "./common.js";

const root = document.getElementById("task-page");
const app = document.querySelector(".orch-app");
const $ = (id) => document.getElementById(id);
let task = jsonData("task-data");
let md = null;
let cancelRequested = false;
let lastStatus = task.status;

const SUBTASK_TEXT = { pending: "waiting", running: "running", succeeded: "done", failed: "failed", skipped: "skipped", cancelled: "cancelled" };
const VERDICT_TEXT = { agree: "agrees", disagree: "disagrees", unparsed: "unreadable", skipped: "skipped", failed: "failed",
  pending: "waiting", running: "reviewing…", cancelled: "cancelled" };
const HALLUCINATION_TEXT = { supported: "Supported", uncertain: "Uncertain", likely_hallucinated: "Likely hallucinated" };
const METHOD_TEXT = { consensus: "Consensus", judge: "Judge", vote: "Vote", fallback: "Fallback", single: "One answer" };
const FLAG_TEXT = { empty: "empty", truncated: "cut off", repetition: "repetitive", invalid_json: "bad JSON" };

/* ---------- Progress and steps ---------- */

function progressText(state) {
  const progressValue = state.status === "succeeded" ? 1 : Number(state.progress) || 0;
  if (cancelRequested && !FINISHED.has(state.status)) return "Cancelling… model calls in flight are being stopped.";
  switch (state.status) {
    case "pending": return "Queued, waiting for a worker…";
    case "running": return `Running… ${Math.round(progressValue * 100)}%`;
    case "succeeded": return "Finished.";
    case "failed": return "Failed.";
    case "cancelled": return "Cancelled.";
    default: return state.status || "";
  }
}

function renderSubtasks(subtasks) {
  const list = $("task-subtasks");
  const items = (subtasks || []).map((step) => {
    const status = step.status || "pending";
    return el("li", { class: "subtask", "data-status": status, "data-key": step.id },
      el("span", { class: "subtask-dot", "aria-hidden": "true" }),
      el("span", { class: "subtask-title", text: step.title || String(step.id ?? "") }),
      el("span", { class: "subtask-status" }, SUBTASK_TEXT[status] || status,
        step.completed_at ? el("time", { class: "subtask-time", dateTime: step.completed_at,
          text: ` · ${new Date(step.completed_at).toLocaleTimeString()}` }) : null));
  });
  list.replaceChildren(...items);
  const count = (status) => (subtasks || []).filter((s) => s.status === status).length;
  const ended = ["failed", "cancelled", "skipped"].filter(count).map((status) => `${count(status)} ${status}`);
  $("subtasks-summary").textContent = subtasks && subtasks.length
    ? [`Steps: ${count("succeeded")} of ${subtasks.length} done`, ...ended].join(" · ")
    : "Steps: planning…";
}

function renderProgress(state) {
  $("task-progress").value = state.status === "succeeded" ? 1 : Number(state.progress) || 0;
  $("task-progress-label").textContent = progressText(state);
}

/* ---------- Answers ---------- */

function metric(label, value, extra = {}) {
  if (value == null || value === "") return null;
  return el("div", { class: `metric ${extra.class || ""}`.trim() }, el("dt", { text: label }),
    el("dd", extra.title ? { title: extra.title } : {}, value));
}

function hallucinationValue(answer) {
  const report = answer.hallucination;
  if (answer.hallucination_score == null) {
    if (report && report.error) return el("span", { class: "muted", title: report.error, text: "not scored" });
    return null;
  }
  const verdict = report && report.verdict;
  const level = { supported: "good", uncertain: "fair", likely_hallucinated: "poor" }[verdict]
    || scoreLevel(answer.hallucination_score, { higherIsBetter: false });
  return el("span", { class: `score score-${level}` },
    el("span", { class: "score-value", text: Number(answer.hallucination_score).toFixed(2) }),
    verdict ? el("span", { class: "score-word", text: HALLUCINATION_TEXT[verdict] || verdict }) : null);
}

function answerColumn(slot, answer, winner) {
  const status = answer.status || "pending";
  const label = answer.label || slotLabel(slot);
  const chosen = winner === slot && task.status === "succeeded";
  const statusBadge = el("span");
  setBadge(statusBadge, status === "skipped" ? "cancelled" : status);
  statusBadge.textContent = SUBTASK_TEXT[status] || status;
  const head = el("div", { class: "answer-head" },
    el("span", { class: "answer-letter", "aria-hidden": "true", text: label }),
    el("div", { class: "answer-who" },
      el("h3", { class: "answer-title" }, el("span", { class: "visually-hidden", text: `Answer ${label} by ` }),
        el("span", { class: "answer-model", text: answer.model || task.models[slot] || "" })),
      el("span", { class: "answer-badges" }, statusBadge,
        chosen ? el("span", { class: "badge badge-success chosen-badge" }, icon("i-check"), "Chosen") : null)));
  let body;
  if (status === "succeeded" && answer.content) {
    body = renderMarkdown(el("div", { class: "answer-body" }), answer.content, md);
  } else if (status === "failed") {
    body = el("div", { class: "answer-body answer-failed" }, el("p", { text: `This model failed: ${(answer.error || "no reason was recorded").replace(/\.+$/, "")}.` }));
  } else if (status === "skipped" || status === "cancelled") {
    body = el("div", { class: "answer-body muted" }, el("p", { text: status === "cancelled" ? "Cancelled before it answered." : "Not asked." }));
  } else {
    body = el("div", { class: "answer-body answer-waiting", "aria-busy": "true" },
      el("span", { class: "typing", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      el("span", { class: "muted small", text: status === "running" ? "Answering…" : "Waiting for its turn…" }));
  }
  const tokens = answer.completion_tokens != null
    ? `${answer.completion_tokens}${answer.prompt_tokens != null ? ` (prompt ${answer.prompt_tokens})` : ""}` : null;
  const flags = (answer.flags || []).length
    ? el("span", { class: "flag-list" }, ...(answer.flags || []).map((flag) =>
      el("span", { class: "badge badge-warning", title: flag.reason || "", text: FLAG_TEXT[flag.code] || flag.code })))
    : null;
  const agreement = answer.agreement_score != null
    ? el("span", { class: `score score-${scoreLevel(answer.agreement_score)}` }, percent(answer.agreement_score)) : null;
  const metrics = el("dl", { class: "answer-metrics" },
    metric("Latency", answer.latency_ms != null ? formatMs(answer.latency_ms) : null),
    metric("Tokens", tokens),
    metric("Agreement", agreement, { title: "Share of the other models' reviews that agree with this answer" }),
    metric("Hallucination", hallucinationValue(answer), { title: "The detector's risk: 0 is well supported, 1 is hallucinated" }),
    metric("Flags", flags));
  const flagged = answer.hallucination && Array.isArray(answer.hallucination.flagged) ? answer.hallucination.flagged : [];
  const doubts = flagged.length
    ? el("details", { class: "answer-doubts" }, el("summary", { text: `${flagged.length} doubtful sentence${flagged.length === 1 ? "" : "s"}` }),
      el("ul", {}, ...flagged.map((s) => el("li", {}, el("span", { text: s.text || "" }),
        el("span", { class: "muted small", text: ` (${(HALLUCINATION_TEXT[s.label] || s.label || "").toLowerCase()}${s.score != null ? `, ${Number(s.score).toFixed(2)}` : ""})` })))))
    : null;
  return el("article", { class: `answer-col${chosen ? " is-chosen" : ""}`, "data-slot": slot, "data-status": status,
    "aria-label": `Answer ${label}` }, head, body, metrics.children.length ? metrics : null, doubts);
}

function renderAnswers() {
  const winner = task.decision ? task.decision.winner : null;
  const columns = (task.models || []).map((model, slot) => {
    const answer = (task.answers || []).find((a) => a.slot === slot) || { slot, model, status: task.status === "cancelled" ? "cancelled" : "pending" };
    return answerColumn(slot, answer, winner);
  });
  const grid = $("answers");
  grid.style.setProperty("--answer-count", String(Math.max(1, columns.length)));
  grid.replaceChildren(...columns);
}

/* ---------- Matrix, reviews, decision ---------- */

const CELL = {
  agree: ["m-agree", "✓", "agrees"],
  disagree: ["m-disagree", "✗", "disagrees"],
  self: ["m-self", "—", "own answer"],
  unparsed: ["m-unknown", "?", "unreadable review"],
  skipped: ["m-unknown", "·", "no review"],
  failed: ["m-failed", "!", "review failed"],
  pending: ["m-pending", "…", "waiting"],
  running: ["m-pending", "…", "reviewing"],
  cancelled: ["m-unknown", "·", "cancelled"],
};

/** The matrix from the stored agreement, or (while running) from the reviews that have ended. */
function matrixData() {
  if (task.agreement && Array.isArray(task.agreement.verdicts)) {
    // A vote or a judge has no reviews: an all-empty matrix would say nothing.
    const reviewed = task.agreement.verdicts.some((row) => row.some((v) => v !== "self" && v !== "skipped"));
    return reviewed ? task.agreement : null;
  }
  const n = (task.models || []).length;
  if (n < 2 || !(task.reviews || []).length) return null;
  const verdicts = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? "self" : "skipped")));
  for (const review of task.reviews) {
    verdicts[review.reviewer][review.target] = review.status === "succeeded" ? review.verdict || "unparsed" : review.status;
  }
  if (!verdicts.some((row) => row.some((v) => v !== "self" && v !== "skipped"))) return null;
  return { labels: task.models.map((_, i) => slotLabel(i)), models: task.models, verdicts, scores: null };
}

function renderMatrix() {
  const data = matrixData();
  $("matrix-card").hidden = !data;
  if (!data) return;
  const n = data.labels.length;
  const head = el("tr", {}, el("th", { scope: "col", class: "m-corner" },
    el("span", { class: "visually-hidden", text: "Reviewer (row) on answer (column)" }),
    el("span", { "aria-hidden": "true", class: "m-corner-text", text: "reviewer ↓  answer →" })));
  for (let j = 0; j < n; j += 1) {
    head.append(el("th", { scope: "col", title: data.models[j] }, el("span", { class: "m-letter", text: data.labels[j] }),
      el("span", { class: "m-model", text: data.models[j] })));
  }
  const body = el("tbody");
  for (let i = 0; i < n; i += 1) {
    const row = el("tr", {}, el("th", { scope: "row", title: data.models[i] }, el("span", { class: "m-letter", text: data.labels[i] }),
      el("span", { class: "m-model", text: data.models[i] })));
    for (let j = 0; j < n; j += 1) {
      const verdict = data.verdicts[i][j];
      const [cls, mark, words] = CELL[verdict] || CELL.skipped;
      row.append(el("td", { class: `m-cell ${cls}`, "data-verdict": verdict, title: `${data.labels[i]} on ${data.labels[j]}: ${words}` },
        el("span", { "aria-hidden": "true", text: mark }), el("span", { class: "visually-hidden", text: words })));
    }
    body.append(row);
  }
  let foot = null;
  if (Array.isArray(data.scores)) {
    foot = el("tfoot", {}, el("tr", {}, el("th", { scope: "row", text: "Agreement" }),
      ...data.scores.map((score) => el("td", { class: `m-score score-${scoreLevel(score)}`, text: percent(score) }))));
  }
  const legend = el("p", { class: "m-legend muted small" },
    el("span", { class: "m-key m-agree", text: "✓" }), " agrees ",
    el("span", { class: "m-key m-disagree", text: "✗" }), " disagrees ",
    el("span", { class: "m-key m-unknown", text: "?" }), " unreadable or no review");
  $("matrix").replaceChildren(el("div", { class: "table-wrap" },
    el("table", { class: "matrix", id: "agreement-matrix" }, el("thead", {}, head), body, foot)), legend);
}

function verdictBadge(verdict, status) {
  const key = status === "succeeded" ? verdict || "unparsed" : status;
  const cls = { agree: "badge-success", disagree: "badge-danger", failed: "badge-danger", running: "badge-accent" }[key] || "badge-neutral";
  return el("span", { class: `badge ${cls}`, text: VERDICT_TEXT[key] || key });
}

function renderReviews() {
  // A review or ballot of a model that gave no answer never happened: the steps list says so, not this card.
  const reviews = (task.reviews || []).filter((r) => r.status !== "skipped");
  const ballots = (task.ballots || []).filter((b) => b.status !== "skipped");
  $("reviews-card").hidden = !reviews.length && !ballots.length;
  if (!reviews.length && !ballots.length) return;
  const parts = [];
  if (reviews.length) {
    $("reviews-title").textContent = "Reviews";
    $("reviews-count").textContent = String(reviews.length);
    const byTarget = new Map();
    for (const review of reviews) {
      if (!byTarget.has(review.target)) byTarget.set(review.target, []);
      byTarget.get(review.target).push(review);
    }
    for (const [target, items] of [...byTarget.entries()].sort((a, b) => a[0] - b[0])) {
      const first = items[0];
      const list = el("ul", { class: "review-list" });
      for (const review of items.sort((a, b) => a.reviewer - b.reviewer)) {
        const claims = (review.claims || []).filter((c) => c.claim);
        list.append(el("li", { class: "review", "data-verdict": review.status === "succeeded" ? review.verdict || "unparsed" : review.status },
          el("div", { class: "review-head" },
            el("span", { class: "answer-letter answer-letter--sm", "aria-hidden": "true", text: review.reviewer_label }),
            el("span", { class: "review-who" }, el("strong", { text: review.reviewer_label }), " ",
              el("span", { class: "muted small", text: review.model })),
            verdictBadge(review.verdict, review.status)),
          review.reasons ? el("p", { class: "review-reasons", text: review.reasons }) : null,
          review.error ? el("p", { class: "review-reasons text-danger", text: review.error }) : null,
          review.status === "succeeded" && review.verdict === "unparsed" && review.raw
            ? el("details", { class: "review-raw" }, el("summary", { text: "What it wrote" }), el("pre", { class: "code", text: review.raw })) : null,
          claims.length ? el("ul", { class: "claim-list" }, ...claims.map((claim) => el("li", { class: "claim", "data-verdict": claim.verdict },
            el("span", { class: `claim-mark claim-${claim.verdict}`, "aria-label": claim.verdict, text: claim.verdict === "agree" ? "✓" : claim.verdict === "disagree" ? "✗" : "?" }),
            el("span", {}, el("span", { class: "claim-text", text: claim.claim }),
              claim.reason ? el("span", { class: "muted small claim-reason", text: ` — ${claim.reason}` }) : null)))) : null));
      }
      parts.push(el("div", { class: "review-group" },
        el("h3", { class: "review-target" }, `On answer ${first.target_label}`,
          el("span", { class: "muted small", text: ` · ${task.models[target] || ""}` })), list));
    }
  }
  if (ballots.length) {
    if (!reviews.length) {
      $("reviews-title").textContent = "Ballots";
      $("reviews-count").textContent = String(ballots.length);
    }
    const list = el("ul", { class: "review-list" });
    for (const ballot of ballots) {
      const voted = ballot.status === "succeeded" && ballot.choice_label;
      list.append(el("li", { class: "review" },
        el("div", { class: "review-head" },
          el("span", { class: "answer-letter answer-letter--sm", "aria-hidden": "true", text: ballot.voter_label }),
          el("span", { class: "review-who" }, el("strong", { text: ballot.voter_label }), " ", el("span", { class: "muted small", text: ballot.model })),
          voted ? el("span", { class: "badge badge-accent", text: `votes for ${ballot.choice_label}` })
            : verdictBadge("unparsed", ballot.status)),
        ballot.reason ? el("p", { class: "review-reasons", text: ballot.reason }) : null,
        ballot.error ? el("p", { class: "review-reasons text-danger", text: ballot.error }) : null));
    }
    parts.push(el("div", { class: "review-group" }, reviews.length ? el("h3", { class: "review-target", text: "Ballots" }) : null, list));
  }
  $("reviews").replaceChildren(...parts);
}

function renderDecision() {
  const decision = task.decision;
  $("decision-card").hidden = !decision;
  if (!decision) return;
  $("decision-method").replaceChildren(el("span", { class: "badge badge-accent", id: "decision-badge", text: METHOD_TEXT[decision.method] || decision.method }));
  const facts = el("dl", { class: "facts" });
  const add = (term, value) => {
    if (value == null || value === "") return;
    facts.append(el("div", { class: "fact" }, el("dt", { text: term }), el("dd", {}, value)));
  };
  add("Chosen", `Answer ${decision.label} · ${decision.model}`);
  add("Judge", decision.judge_model || null);
  add("Support", decision.support != null ? percent(decision.support) : null);
  if (decision.votes && typeof decision.votes === "object") {
    add("Votes", Object.entries(decision.votes).map(([label, count]) => `${label}: ${count}`).join(" · "));
  }
  $("decision").replaceChildren(...[
    el("p", { class: "decision-reasoning", id: "decision-reasoning", text: decision.reasoning || "" }),
    facts,
    decision.judge_failed ? el("p", { class: "callout callout-warning", text: decision.judge_failed }) : null,
    decision.raw ? el("details", {}, el("summary", { text: "What the judge wrote" }), el("pre", { class: "code", text: decision.raw })) : null,
  ].filter(Boolean));
}

function renderFinal() {
  const done = task.status === "succeeded" && task.final_answer;
  $("final-card").hidden = !done;
  if (!done) return;
  renderMarkdown($("final-answer"), task.final_answer, md);
  const decision = task.decision || {};
  $("final-from").textContent = decision.label ? `Answer ${decision.label} · ${decision.model}` : "";
  const confidence = task.confidence;
  // No other model's judgement backs the answer (one answer, or no review, ballot or ruling could be read):
  // nothing was compared, so it is never "high confidence", whatever the hallucination check alone says.
  const checked = decision.support != null;
  const level = checked ? scoreLevel(confidence) : "none"; // muted: not judged bad, just not checked
  const words = !checked ? "Unchecked"
    : { good: "High confidence", fair: "Medium confidence", poor: "Low confidence", none: "Confidence unknown" }[level];
  const why = checked
    ? "The share of the other models' judgements that back this answer, averaged with 1 − its hallucination score."
    : decision.method === "single"
      ? "Only one model answered, so no other model checked it: this comes from the hallucination check alone, and is capped at 50%."
      : "No other model's judgement of it could be read: this comes from the hallucination check alone, and is capped at 50%.";
  const bar = el("div", { class: "confidence-bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-valuenow": confidence != null ? String(Math.round(confidence * 100)) : "0", "aria-label": "Confidence" },
  el("span", { class: `confidence-fill score-bg-${level}` }));
  bar.firstChild.style.width = confidence != null ? `${Math.round(confidence * 100)}%` : "0";
  $("final-confidence").replaceChildren(
    el("div", { class: "confidence-head" }, el("span", { class: "confidence-label", id: "confidence-label", text: words }),
      el("span", { class: `confidence-value score score-${level}`, id: "confidence-value", text: percent(confidence) })),
    bar,
    el("p", { class: "muted small", id: "confidence-why", text: why }));
}

function renderSources() {
  const sources = (task.sources || []).filter((s) => s && (s.source_title || s.excerpt));
  const warning = (task.sources || []).find((s) => s && s.warning);
  $("sources-card").hidden = !sources.length && !warning;
  const items = sources.map((s) => el("li", { class: "source-item" },
    el("span", { class: "source-n", text: `[${s.n}]` }),
    el("span", {}, s.page && s.page.startsWith("/") ? el("a", { href: s.page, text: s.source_title || "source" }) : el("strong", { text: s.source_title || "source" }),
      s.kb_name ? el("span", { class: "muted small", text: ` · ${s.kb_name}` }) : null,
      s.excerpt ? el("span", { class: "source-excerpt muted small", text: s.excerpt }) : null)));
  if (warning) items.push(el("li", { class: "muted small", text: warning.warning }));
  $("sources").replaceChildren(...items);
}

function renderRequest() {
  const parts = [el("p", { class: "label", text: "Prompt" }), el("pre", { class: "code preview-text", id: "task-prompt", text: task.prompt })];
  if (task.system_prompt) parts.push(el("p", { class: "label", text: "System prompt (instructions)" }), el("pre", { class: "code preview-text", text: task.system_prompt }));
  const facts = el("dl", { class: "facts" });
  const add = (term, value) => {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    facts.append(el("div", { class: "fact" }, el("dt", { text: term }), el("dd", { text: Array.isArray(value) ? value.join(", ") : String(value) })));
  };
  add("Models", task.models);
  add("Strategy", STRATEGY_TEXT[task.strategy] || task.strategy);
  if (task.strategy === "cross_validate") add("Tiebreaker", task.tiebreaker);
  add("Judge model", task.judge_model || null);
  if (task.template_id) add("Template variables", Object.entries(task.variables || {}).map(([k, v]) => `${k} = ${v}`));
  add("Knowledge bases", (task.knowledge_base_ids || []).map((id) => `#${id}`));
  add("Options", Object.entries(task.options || {}).map(([k, v]) => `${k}: ${v}`));
  parts.push(facts);
  $("request").replaceChildren(...parts);
}

function renderMetrics() {
  const m = task.metrics;
  if (!m) {
    $("metrics").replaceChildren(el("p", { class: "muted", text: "The figures appear when the task ends." }));
    return;
  }
  const rows = [
    ["Answers", m.answers ? `${m.answers.succeeded} of ${m.answers.asked}${m.answers.failed ? ` (${m.answers.failed} failed)` : ""}` : null],
    ["Tokens", m.tokens ? `${m.tokens.prompt} prompt · ${m.tokens.completion} completion` : null],
    ["Model time (all calls)", formatMs(m.model_time_ms)],
    ["Slowest answer", formatMs(m.slowest_answer_ms)],
    ["Critical path", formatMs(m.critical_path_ms)],
    ["Wall time", formatMs(m.wall_ms)],
    ["Orchestrator overhead", m.overhead_ms != null ? formatMs(m.overhead_ms) : "— (resumed run)"],
    ["Reviews", m.reviews ? Object.entries(m.reviews).map(([k, v]) => `${VERDICT_TEXT[k] || k}: ${v}`).join(" · ") : null],
  ];
  const facts = el("dl", { class: "facts", id: "task-metrics" });
  for (const [term, value] of rows) {
    if (value != null) facts.append(el("div", { class: "fact" }, el("dt", { text: term }), el("dd", { text: value })));
  }
  $("metrics").replaceChildren(facts);
}

function renderHeader() {
  setBadge($("task-status"), task.status);
  const finished = FINISHED.has(task.status);
  const step = Boolean(task.workflow_run_id);
  $("task-cancel").hidden = finished || step;
  if (finished) $("task-cancel").disabled = false;
  $("task-rerun").hidden = !finished || step;
  $("task-delete").hidden = !finished || step;
  $("task-failed").hidden = task.status !== "failed";
  $("task-error-text").textContent = task.error || "No reason was recorded.";
  $("task-cancelled").hidden = task.status !== "cancelled";
  $("task-live").classList.toggle("is-finished", finished);
  if (finished) $("task-connection").textContent = "";
  if (finished && task.status === "succeeded") $("subtasks-details").open = false;
}

function renderAll() {
  renderHeader();
  renderProgress(task);
  renderSubtasks(task.subtasks);
  renderFinal();
  renderAnswers();
  renderMatrix();
  renderDecision();
  renderReviews();
  renderSources();
  renderRequest();
  renderMetrics();
}

/* ---------- Live ---------- */

async function refetch() {
  const data = await api("GET", root.dataset.taskApi);
  task = data.task;
  renderAll();
  if (task.status !== lastStatus && FINISHED.has(task.status)) {
    $("task-announce").textContent = task.status === "succeeded"
      ? `The task finished: answer ${task.decision ? task.decision.label : ""} was chosen with ${percent(task.confidence)} confidence.`
      : `The task ${task.status}.`;
  }
  lastStatus = task.status;
  if (FINISHED.has(task.status)) stopPolling();
}

const scheduleRefetch = throttled(refetch, 400);
let pollTimer = null;

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

function onUpdate(state) {
  if (state.task_id !== task.job_id) return;
  if (!task.workflow_run_id) {
    // The job's own checklist is this task's subtasks: show it now, the rest follows from the refetch.
    task.progress = state.progress;
    if (!FINISHED.has(task.status)) task.status = state.status === "succeeded" ? task.status : state.status;
    renderProgress({ ...task, status: state.status });
    renderSubtasks(state.subtasks);
  }
  scheduleRefetch();
}

function onConnection(state) {
  const text = { open: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Not connected: reload the page" };
  if (FINISHED.has(task.status)) return;
  $("task-connection").textContent = text[state] || "";
  if (state === "open") scheduleRefetch(); // catch up on what happened while away
}

function showActionError(message) {
  showError($("task-action-error"), message);
}

$("task-cancel").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showActionError("");
  try {
    const data = await api("POST", root.dataset.cancelApi);
    cancelRequested = true;
    task = data.task;
    renderAll();
  } catch (error) {
    showActionError(error.message);
    button.disabled = false;
  }
});

$("task-rerun").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showActionError("");
  try {
    const data = await api("POST", root.dataset.rerunApi);
    location.assign(urlFor(root.dataset.taskUrl, data.task.id));
  } catch (error) {
    showActionError(error.message);
    button.disabled = false;
  }
});

$("task-delete").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  if (!(await confirmDialog({ title: `Delete task #${task.id}?`, message: "Its answers and reviews go with it; this cannot be undone.",
    confirmLabel: "Delete", danger: true }))) return;
  button.disabled = true;
  showActionError("");
  try {
    await api("DELETE", root.dataset.taskApi);
    location.assign(root.dataset.indexUrl);
  } catch (error) {
    showActionError(error.message);
    button.disabled = false;
  }
});

$("final-copy").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  try {
    await navigator.clipboard.writeText(task.final_answer || "");
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
});

localTimes(root);
$("subtasks-details").open = !FINISHED.has(task.status);
renderAll();
scriptReady();
md = await loadMarkdown();
renderAll();
if (!FINISHED.has(task.status)) {
  if (task.job_id) {
    new TaskFollower(onUpdate, { onStatus: onConnection }).follow(task.job_id);
  }
  // A safety net: if no update arrives (a proxy that drops WebSockets), the page still moves.
  pollTimer = setInterval(scheduleRefetch, task.job_id ? 5000 : 1500);
}
