// The result page of one browser job: live progress over /ws while it runs, then the result
// (scrape: page facts, screenshot, PDF, text, links, refused requests; automation: the steps).
// Scraped content is hostile: it only ever reaches the DOM as text or as a checked http(s) URL.
import { getJSON, postJSON } from "kit/api";
import { FINISHED, badge, setBadge } from "kit/badges";
import { el } from "kit/dom";
import { TaskFollower } from "kit/tasks";
import { formatTime } from "kit/time";
import { progressText, subtaskItems } from "./progress.js";

const root = document.getElementById("job-page");
const $ = (id) => document.getElementById(id);
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const LINK_REL = "noopener noreferrer nofollow";
const STEP_BADGE = { ok: "succeeded", failed: "failed", skipped: "pending", succeeded: "succeeded" };
const STEP_TEXT = { ok: "ok", succeeded: "ok", failed: "failed", skipped: "skipped", pending: "not run", running: "running" };

let job = JSON.parse($("job-data").textContent);
let cancelRequested = false;
const CANCELLING = "Cancelling… the job stops at its next step.";

/* ---------- Small builders ---------- */

/** The URL as a string when it is http(s), else null: a scraped `javascript:` link must never be clickable. */
function safeHref(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, job.params && job.params.url ? job.params.url : location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function externalLink(url, text = url) {
  const href = safeHref(url);
  if (!href) return el("span", { class: "break-all", text: text || url || "" });
  return el("a", { href, target: "_blank", rel: LINK_REL, class: "break-all", text: text || href });
}

function fileUrl(name, download = false) {
  if (typeof name !== "string" || !FILE_NAME.test(name) || !(job.files || []).includes(name)) return null;
  return `${root.dataset.filesUrl}${encodeURIComponent(name)}${download ? "?download=1" : ""}`;
}

function card(title, { id, count, actions } = {}, ...body) {
  const headingId = id ? `${id}-title` : undefined;
  const heading = el("h2", { class: "card-title", id: headingId }, title);
  if (count != null) heading.append(el("span", { class: "badge badge-neutral", text: String(count) }));
  return el("section", { class: "card", id, "aria-labelledby": headingId },
    el("div", { class: "card-header" }, heading, actions || null),
    ...body);
}

function definitionList(rows, className = "facts") {
  const list = el("dl", { class: className });
  for (const [term, value] of rows) {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) continue;
    list.append(el("div", { class: "fact" }, el("dt", { text: term }), el("dd", {}, value)));
  }
  return list.children.length ? list : null;
}

function pretty(value) {
  return el("pre", { class: "code json-value", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
}

function humanize(key) {
  return String(key).replace(/_ms$|_s$/, "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function formatMs(ms) {
  const value = Number(ms);
  if (!Number.isFinite(value)) return String(ms);
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)} s` : `${Math.round(value)} ms`;
}

function copyButton(getText, label) {
  const button = el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Copy", "aria-label": label });
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(getText());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  return button;
}

function screenshotFigure(name, caption) {
  const src = fileUrl(name);
  if (!src) return null;
  const image = el("img", { src, alt: caption, class: "shot-image" });
  return el("figure", { class: "shot" },
    el("a", { href: src, target: "_blank", rel: "noopener", class: "shot-link", title: "Open the full-size screenshot" }, image),
    el("figcaption", { class: "shot-caption" },
      el("span", { class: "muted small", text: caption }),
      el("span", { class: "btn-group" },
        el("a", { class: "btn btn-secondary btn-sm", href: src, target: "_blank", rel: "noopener", text: "Full size" }),
        el("a", { class: "btn btn-ghost btn-sm", href: fileUrl(name, true), text: "Download PNG", download: name }))));
}

function pdfLinks(name) {
  const src = fileUrl(name);
  if (!src) return null;
  return el("div", { class: "file-row" },
    el("span", { class: "file-name" }, el("span", { class: "badge badge-neutral", text: "PDF" }), el("span", { text: name })),
    el("span", { class: "btn-group" },
      el("a", { class: "btn btn-secondary btn-sm", href: src, target: "_blank", rel: "noopener", text: "Open PDF",
        "data-pdf-link": "" }),
      el("a", { class: "btn btn-ghost btn-sm", href: fileUrl(name, true), text: "Download PDF", download: name })));
}

/* ---------- Scrape results ---------- */

function httpStatus(status) {
  if (status == null || status === "") return null;
  const code = Number(status);
  const kind = code >= 200 && code < 300 ? "badge-success" : code >= 300 && code < 400 ? "badge-neutral" : "badge-danger";
  return el("span", { class: `badge ${kind}`, text: String(status) });
}

function linkParts(link) {
  if (typeof link === "string") return { url: link, text: "" };
  if (link && typeof link === "object") {
    return { url: link.url || link.href || "", text: (link.text || link.title || "").trim() };
  }
  return { url: String(link ?? ""), text: "" };
}

function blockedCallout(result) {
  const blocked = Array.isArray(result.blocked) ? result.blocked : [];
  if (!blocked.length) return null;
  const list = el("ul", { class: "blocked-list" });
  for (const item of blocked) {
    list.append(el("li", {},
      el("code", { class: "break-all", text: item.url || "" }),
      el("span", { class: "muted", text: ` — ${item.reason || "refused"}` })));
  }
  return el("div", { class: "callout callout-warning blocked-callout", id: "blocked-requests", role: "note" },
    el("p", {}, el("strong", { text: `${blocked.length} request${blocked.length === 1 ? " was" : "s were"} refused` }),
      " (not a public address, or not allowed), so the page may look incomplete:"),
    list);
}

function truncatedCallout(result) {
  if (!result.truncated) return null;
  return el("div", { class: "callout callout-warning", role: "note" },
    el("p", {}, el("strong", { text: "Download limit reached. " }),
      "Later parts of the page were not fetched (the max_bytes option); the result may be incomplete."));
}

function timingList(result) {
  if (!result.timings || typeof result.timings !== "object") return null;
  return definitionList(Object.entries(result.timings).map(([key, value]) => [humanize(key), formatMs(value)]), "timings");
}

function renderScrape(result) {
  const parts = [blockedCallout(result), truncatedCallout(result)].filter(Boolean);
  const meta = result.meta || {};

  const facts = definitionList([
    ["Final URL", result.final_url ? externalLink(result.final_url) : null],
    ["HTTP status", httpStatus(result.status)],
    ["Title", result.title ? el("span", { id: "result-title", text: result.title }) : null],
    ["Description", meta.description || null],
    ["Canonical", meta.canonical ? externalLink(meta.canonical) : null],
    ["Language", meta.lang || null],
  ]);
  const og = meta.og && typeof meta.og === "object" ? Object.entries(meta.og) : [];
  const ogList = og.length
    ? definitionList(og.map(([key, value]) => [key.startsWith("og:") ? key : `og:${key}`, /url|image/.test(key) && safeHref(String(value))
      ? externalLink(String(value)) : String(value)]), "facts facts--compact")
    : null;
  const timings = timingList(result);

  const shot = screenshotFigure(result.screenshot, `Screenshot of ${result.title || result.final_url || "the page"}`);
  const pdf = pdfLinks(result.pdf);
  const summary = el("div", { class: "card-body page-summary" },
    el("div", { class: "page-facts" },
      facts || el("p", { class: "muted", text: "No page information was recorded." }),
      ogList ? el("h3", { class: "subheading", text: "Open Graph" }) : null, ogList,
      timings ? el("h3", { class: "subheading", text: "Timings" }) : null, timings),
    shot || pdf ? el("div", { class: "page-files" }, shot, pdf) : null);
  parts.push(card("Page", { id: "result-page" }, summary));

  const text = typeof result.text === "string" ? result.text : "";
  parts.push(card("Readable text", {
    id: "result-text",
    actions: text ? el("span", { class: "btn-group" },
      el("span", { class: "muted small", text: `${text.length.toLocaleString()} characters${
        result.text_source === "innerText" ? " (all visible text: no main content was found)" : ""}` }),
      copyButton(() => text, "Copy the text")) : null,
  }, el("div", { class: "card-body" }, text
    ? el("pre", { class: "page-text", id: "page-text", tabIndex: 0, text })
    : el("p", { class: "muted", text: "The page had no readable text." }))));

  const links = Array.isArray(result.links) ? result.links : [];
  const list = el("ol", { class: "link-list", id: "link-list" });
  for (const link of links) {
    const { url, text: label } = linkParts(link);
    list.append(el("li", {},
      externalLink(url, label || url),
      label && label !== url ? el("span", { class: "link-url muted small break-all", text: url }) : null));
  }
  parts.push(card("Links", { id: "result-links", count: links.length },
    links.length ? el("div", { class: "card-body link-scroll" }, list)
      : el("div", { class: "card-body" }, el("p", { class: "muted", text: "No links on the page." }))));
  return parts;
}

/* ---------- Automation results ---------- */

function stepDetail(step) {
  if (!step || typeof step !== "object") return "";
  const bits = [];
  for (const key of ["url", "selector", "key", "text", "as", "name", "state", "ms"]) {
    if (step[key] != null && step[key] !== "") bits.push(key === "ms" ? `${step[key]} ms` : String(step[key]));
  }
  return bits.join(" · ");
}

function stepResult(step, index) {
  const cell = el("div", { class: "step-result" });
  if (step.error) cell.append(el("p", { class: "step-error", text: step.error }));
  const value = step.result;
  if (value === undefined || (value === null && step.action !== "extract")) {
    if (!step.error) cell.append(el("span", { class: "muted", text: "—" }));
    return cell;
  }
  // extract gives the value itself (text, a list, an attribute or null when the attribute is missing).
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    cell.append(value === null ? el("span", { class: "muted", text: "(no value)" }) : pretty(value));
    return cell;
  }
  const rest = { ...value };
  if (typeof rest.url === "string") {
    cell.append(el("p", { class: "step-url" }, externalLink(rest.url), " ", httpStatus(rest.status)));
    delete rest.url;
    delete rest.status;
  }
  if (value.screenshot) {
    delete rest.screenshot;
    const figure = screenshotFigure(value.screenshot, `Screenshot taken by step ${index + 1}`);
    if (figure) cell.append(figure);
  }
  for (const key of ["pdf", "file"]) {
    if (typeof value[key] === "string" && /\.pdf$/i.test(value[key])) {
      delete rest[key];
      const links = pdfLinks(value[key]);
      if (links) cell.append(links);
    }
  }
  if (Object.keys(rest).length) cell.append(pretty(rest));
  if (!cell.children.length) cell.append(el("span", { class: "muted", text: "—" }));
  return cell;
}

function renderAutomation(result) {
  const parts = [blockedCallout(result), truncatedCallout(result)].filter(Boolean);
  const steps = Array.isArray(result.steps) ? result.steps : [];
  const script = job.params && Array.isArray(job.params.steps) ? job.params.steps : [];
  const body = el("tbody", { id: "step-rows" });
  steps.forEach((step, position) => {
    const index = Number.isInteger(step.index) ? step.index : position;
    const action = step.action || (script[index] && script[index].action) || step.title || "?";
    const status = step.status || "pending";
    const statusBadge = badge(STEP_BADGE[status] || "pending");
    statusBadge.textContent = STEP_TEXT[status] || status;
    body.append(el("tr", { "data-status": status },
      el("td", { "data-label": "#", class: "cell-num", text: String(index + 1) }),
      el("td", { "data-label": "Action" },
        el("div", { class: "step-action" }, el("code", { text: action }),
          el("span", { class: "muted small break-all", text: stepDetail(script[index]) }))),
      el("td", { "data-label": "Status" }, statusBadge),
      el("td", { "data-label": "Result", class: "cell-result" }, stepResult({ ...step, action }, index)),
      el("td", { "data-label": "Time", class: "cell-num", text: step.ms != null ? formatMs(step.ms) : "—" })));
  });
  const done = steps.filter((s) => s.status === "ok" || s.status === "succeeded").length;
  const facts = definitionList([
    ["Final URL", result.final_url ? externalLink(result.final_url) : null],
    ["Title", result.title || null],
    ["Steps done", `${done} of ${steps.length || script.length}`],
    ["Total time", result.timings && result.timings.total_ms != null ? formatMs(result.timings.total_ms) : null],
  ]);
  const note = result.cancelled
    ? el("p", { class: "muted small", text: "The run was cancelled: the skipped steps did not run." })
    : null;
  parts.push(card("Summary", { id: "result-summary" }, el("div", { class: "card-body" }, facts, note)));
  const table = steps.length
    ? el("div", { class: "table-wrap" },
      el("table", { class: "table table-stack steps-table" },
        el("thead", {}, el("tr", {},
          ...["#", "Action", "Status", "Result", "Time"].map((name) => el("th", { scope: "col", text: name })))),
        body))
    : el("div", { class: "card-body" }, el("p", { class: "muted", text: "No step ran." }));
  parts.push(card("Steps", { id: "result-steps", count: steps.length || null }, table));
  return parts;
}

/* ---------- Page state ---------- */

function renderResults() {
  const container = $("job-results");
  const result = job.result;
  if (!result || typeof result !== "object") {
    container.replaceChildren();
    return;
  }
  const parts = job.kind === "browser.automate" ? renderAutomation(result) : renderScrape(result);
  container.replaceChildren(...parts);
  $("job-error-partial").hidden = !(job.status === "failed" && parts.length);
}

function renderHeader() {
  setBadge($("job-status"), job.status);
  $("job-title").textContent = job.title || `Job ${job.task_id}`;
  const finished = FINISHED.has(job.status);
  const cancel = $("job-cancel");
  cancel.hidden = finished;
  if (finished) cancel.disabled = false;
  $("job-retry").hidden = !(job.status === "failed" || job.status === "cancelled");
  $("job-error").hidden = job.status !== "failed";
  $("job-error-text").textContent = job.error || "No reason was recorded.";
  const cancelled = $("job-cancelled");
  cancelled.hidden = job.status !== "cancelled";
  $("job-live").hidden = finished;
  if (finished && job.finished_at !== undefined) {
    const time = $("job-finished");
    time.dateTime = job.finished_at || "";
    time.textContent = formatTime(job.finished_at);
    $("job-finished-wrap").hidden = !job.finished_at;
  }
}

function renderLive(state) {
  $("job-progress").value = state.status === "succeeded" ? 1 : Number(state.progress) || 0;
  $("job-progress").dataset.state = state.status; // a failed job's bar stops where it failed, in the danger colour
  $("job-progress-label").textContent = cancelRequested && !FINISHED.has(state.status) ? CANCELLING : progressText(state);
  $("job-subtasks").replaceChildren(...subtaskItems(state.subtasks));
}

function renderDetails() {
  $("job-log").textContent = job.log || "(nothing logged yet)";
  $("job-params").textContent = JSON.stringify(job.params || {}, null, 2);
}

async function onUpdate(state) {
  if (state.task_id !== job.task_id) return;
  job = { ...job, ...state };
  renderLive(state);
  if (!FINISHED.has(state.status)) {
    renderHeader();
    return;
  }
  job.finished_at = state.updated_at;
  try {
    const data = await getJSON(root.dataset.jobApi);
    job = { ...data.job, finished_at: state.updated_at };
  } catch {
    /* keep what the update carried; the result is in it */
  }
  renderHeader();
  renderResults();
  renderDetails();
  $("job-announce").textContent = `The job ${job.status === "succeeded" ? "finished" : job.status}; its result is below.`;
}

function showActionError(message) {
  const node = $("job-action-error");
  node.textContent = message || "";
  node.hidden = !message;
}

$("job-cancel").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showActionError("");
  try {
    const data = await postJSON(root.dataset.cancelApi);
    cancelRequested = true;
    if (FINISHED.has(data.job.status)) onUpdate(data.job);
    else $("job-progress-label").textContent = CANCELLING;
  } catch (error) {
    showActionError(error.message);
    button.disabled = false;
  }
});

$("job-retry").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showActionError("");
  try {
    const data = await postJSON(root.dataset.retryApi);
    location.assign(data.job.url);
  } catch (error) {
    showActionError(error.message);
    button.disabled = false;
  }
});

function onConnection(state) {
  const text = { open: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Not connected: reload the page" };
  $("job-connection").textContent = text[state] || "";
}

for (const time of document.querySelectorAll("time[data-local]")) time.textContent = formatTime(time.dateTime);
renderLive(job);
renderResults();
renderDetails();
if (!FINISHED.has(job.status)) {
  new TaskFollower(onUpdate, { onStatus: onConnection }).follow(job.task_id);
}
