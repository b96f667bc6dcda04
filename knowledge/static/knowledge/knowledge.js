// A knowledge base's page: add sources (uploads with progress, pasted text, web pages), follow
// their ingestion live over /ws (`task:*`), manage them, search the base, re-embed it.
// Document text and scraped pages are hostile: everything goes in via textContent / attributes.
import { api, urlFor } from "kit/api";
import { FINISHED, setBadge } from "kit/badges";
import { confirmDialog } from "kit/confirm";
import { el, showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { initTabs } from "kit/tabs";
import { TaskFollower } from "kit/tasks";
import { localTimes } from "kit/time";
import { KIND_TEXT, SOURCE_BUSY, formatBytes, percent, uploadFile } from "./sources.js";

const root = document.getElementById("kb-detail");
const $ = (id) => document.getElementById(id);
const data = root.dataset;
const maxUploadBytes = Number(data.maxUploadMb) * 1024 * 1024 || 0;

let sources = [];
// Sources deleted on this page: a list fetched before the delete landed must not bring them back.
const deletedIds = new Set();
let listLoaded = false; // until then the rows are the server's, and `sources` is still empty
const jobStates = new Map(); // job id -> the latest task:update
const uploads = new Map(); // source id -> its upload list item
let reembedJobId = null;
let refreshTimer = null;
let laggingRefreshes = 0;

const follower = new TaskFollower(onTaskUpdate);

localTimes(root);

/* ---------- Tabs ---------- */

initTabs(root.querySelector('[role="tablist"]'));

/* ---------- Name and description ---------- */

const editForm = $("kb-edit-form");

function setEditing(editing) {
  editForm.hidden = !editing;
  $("kb-view").hidden = editing;
  $("kb-edit").setAttribute("aria-expanded", String(editing));
  showError($("kb-edit-error"), "");
  if (editing) $("kb-edit-name").focus();
  else $("kb-edit").focus();
}

$("kb-edit").addEventListener("click", () => setEditing(true));
$("kb-edit-cancel").addEventListener("click", () => {
  editForm.reset();
  setEditing(false);
});
editForm.addEventListener("keydown", (event) => {
  if (event.key === "Escape") $("kb-edit-cancel").click();
});
editForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("kb-edit-name").value.trim();
  const description = $("kb-edit-description").value.trim();
  if (!name) {
    showError($("kb-edit-error"), "Give the knowledge base a name.");
    return;
  }
  const button = editForm.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const answer = await api("PATCH", data.baseApi, { name, description });
    showBase(answer.base || { name, description });
    setEditing(false);
  } catch (error) {
    showError($("kb-edit-error"), error.message);
  } finally {
    button.disabled = false;
  }
});

function showBase(base) {
  $("kb-name").textContent = base.name;
  $("kb-crumb").textContent = base.name;
  $("kb-description").textContent = base.description || "";
  $("kb-description").hidden = !base.description;
  $("kb-edit-name").defaultValue = base.name;
  $("kb-edit-description").defaultValue = base.description || "";
  document.title = `${base.name} · Knowledge · AI Orchestrator`;
  if (base.embedding_model !== undefined) $("stat-model").textContent = base.embedding_model || "—";
  if (base.updated_at) {
    $("stat-updated").dateTime = base.updated_at;
    localTimes(root);
  }
}

/* ---------- Sources ---------- */

function sourceName(source) {
  return source.title || source.original_name || source.url || `Source ${source.id}`;
}

function liveProgress(source) {
  const state = source.job_id ? jobStates.get(Number(source.job_id)) : null;
  const fraction = state ? Number(state.progress) || 0 : 0;
  const running = state && Array.isArray(state.subtasks) ? state.subtasks.find((task) => task.status === "running") : null;
  let label = source.status === "pending" && (!state || state.status === "pending") ? "Queued…" : `Processing… ${percent(fraction)}`;
  if (running && running.title) label = `${running.title}… ${percent(fraction)}`;
  const bar = el("progress", { max: 1, value: fraction, "aria-label": `Progress of ${sourceName(source)}` });
  return el("div", { class: "row-progress" }, bar, el("span", { class: "muted small", text: label }));
}

function sourceRow(source) {
  const view = urlFor(data.sourceUrl, source.id);
  const status = busyStatus(source);
  const badgeNode = el("span", { "data-status-badge": "" });
  setBadge(badgeNode, status);
  const statusCell = el("td", { "data-label": "Status", class: "cell-status" }, badgeNode);
  if (SOURCE_BUSY.has(status)) statusCell.append(liveProgress(source));
  if (status === "failed") statusCell.append(el("span", { class: "source-error", text: source.error || "Failed." }));

  const sourceCell = el("td", { "data-label": "Source", class: "cell-source" },
    el("a", { class: "source-title", href: view, text: sourceName(source) }));
  if (source.kind === "file" && source.original_name && source.original_name !== source.title) {
    sourceCell.append(el("span", { class: "source-sub muted small", text: source.original_name }));
  }
  if (source.kind === "url" && source.url) {
    sourceCell.append(el("span", { class: "source-sub muted small break-all", text: source.url }));
  }

  const actions = el("div", { class: "btn-group source-actions" },
    el("a", { class: "btn btn-ghost btn-sm", href: view, text: "Chunks", "aria-label": `View the chunks of ${sourceName(source)}` }));
  if (source.kind === "url") {
    actions.append(el("button", { class: "btn btn-secondary btn-sm", type: "button", text: "Re-scrape",
      "data-action": "rescrape", disabled: SOURCE_BUSY.has(status), "aria-label": `Re-scrape ${sourceName(source)}` }));
  }
  actions.append(el("button", { class: "btn btn-danger-outline btn-sm", type: "button", text: "Delete",
    "data-action": "delete", "aria-label": `Delete ${sourceName(source)}` }));

  return el("tr", { "data-source-id": String(source.id), "data-name": sourceName(source), "data-status": status, "data-job-id": String(source.job_id || "") },
    sourceCell,
    el("td", { "data-label": "Kind", text: KIND_TEXT[source.kind] || source.kind }),
    el("td", { "data-label": "Size", class: "cell-size" },
      source.size_bytes ? formatBytes(source.size_bytes) : el("span", { class: "muted", text: "—" })),
    statusCell,
    el("td", { "data-label": "Chunks", class: "cell-num", text: String(source.chunk_count ?? 0) }),
    el("td", { class: "cell-actions" }, actions));
}

/** The row's status: the source's, or "processing" once its job runs (the row may lag the job). */
function busyStatus(source) {
  const state = source.job_id ? jobStates.get(Number(source.job_id)) : null;
  if (source.status === "pending" && state && state.status === "running") return "processing";
  return source.status;
}

function renderSources() {
  $("source-rows").replaceChildren(...sources.map(sourceRow));
  $("sources-wrap").hidden = sources.length === 0;
  $("sources-empty").hidden = sources.length > 0;
  $("stat-sources").textContent = String(sources.length);
  $("stat-chunks").textContent = String(sources.reduce((sum, source) => sum + (Number(source.chunk_count) || 0), 0));
  const busy = sources.filter((source) => SOURCE_BUSY.has(source.status)).length;
  $("sources-live").textContent = busy ? `${busy} being processed…` : "";
  let lagging = false;
  for (const source of sources) {
    if (SOURCE_BUSY.has(source.status) && source.job_id) {
      const state = jobStates.get(Number(source.job_id));
      // A job that has ended while its source still reads busy: the row is about to change.
      if (state && FINISHED.has(state.status)) lagging = true;
      else follower.follow(source.job_id);
    }
    const item = uploads.get(Number(source.id));
    if (item) showUploadSource(item, source);
  }
  if (lagging && laggingRefreshes < 10) {
    laggingRefreshes += 1;
    refreshSoon(1500);
  } else if (!lagging) {
    laggingRefreshes = 0;
  }
}

async function refreshSources() {
  try {
    const [answer, base] = await Promise.all([api("GET", data.sourcesApi), api("GET", data.baseApi).catch(() => null)]);
    sources = (answer.sources || []).filter((source) => !deletedIds.has(Number(source.id)));
    // The embedding model is chosen at the first ingestion; the counts and "updated" move too.
    if (base && base.base) showBase(base.base);
    showError($("sources-error"), "");
    listLoaded = true;
    renderSources();
  } catch (error) {
    showError($("sources-error"), `The sources could not be loaded: ${error.message}`);
  }
}

/** Refetches soon, once for a burst of finished jobs. */
function refreshSoon(delay = 150) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshSources, delay);
}

function addSource(source, jobId) {
  if (!source) return;
  if (jobId && !source.job_id) source.job_id = jobId;
  sources = [source, ...sources.filter((other) => other.id !== source.id)];
  renderSources();
  if (source.job_id) follower.follow(source.job_id);
}

function onTaskUpdate(state) {
  const id = Number(state.task_id);
  jobStates.set(id, state);
  if (id === reembedJobId) {
    showReembed(state);
    return;
  }
  const source = sources.find((candidate) => Number(candidate.job_id) === id);
  if (FINISHED.has(state.status)) {
    refreshSoon();
  } else if (source) {
    const row = $("source-rows").querySelector(`tr[data-source-id="${Number(source.id)}"]`);
    if (row) row.replaceWith(sourceRow(source));
    const item = uploads.get(Number(source.id));
    if (item) showUploadSource(item, source);
  }
}

$("source-rows").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const id = Number(row.dataset.sourceId);
  const source = sources.find((candidate) => candidate.id === id);
  // The row names its source itself: the list may be mid-refresh (or not yet loaded) when the
  // click lands; server-rendered rows carry data-name too.
  const name = source ? sourceName(source) : row.dataset.name || `source ${id}`;
  showError($("sources-error"), "");
  if (button.dataset.action === "delete") {
    if (!(await confirmDialog({ title: `Delete “${name}”?`, message: "Its chunks go with it; this cannot be undone.",
      confirmLabel: "Delete", danger: true }))) return;
    button.disabled = true;
    try {
      await api("DELETE", urlFor(data.sourceApi, id));
      deletedIds.add(id);
      sources = sources.filter((candidate) => candidate.id !== id);
      uploads.get(id)?.remove();
      uploads.delete(id);
      if (listLoaded) {
        renderSources();
      } else {
        // The list has not arrived yet: take the server-rendered row away and leave the others.
        row.remove();
        $("stat-sources").textContent = String($("source-rows").rows.length);
        refreshSoon();
      }
      $("sources-live").textContent = `Deleted “${name}”.`;
    } catch (error) {
      showError($("sources-error"), `${name}: ${error.message}`);
      button.disabled = false;
    }
  } else if (button.dataset.action === "rescrape") {
    button.disabled = true;
    try {
      const answer = await api("POST", `${urlFor(data.sourceApi, id)}/rescrape`);
      if (source) {
        source.job_id = answer.job_id;
        source.status = "pending";
        source.error = "";
      }
      renderSources();
      follower.follow(answer.job_id);
    } catch (error) {
      showError($("sources-error"), `${name}: ${error.message}`);
      button.disabled = false;
    }
  }
});

/* ---------- Uploads ---------- */

const dropzone = $("dropzone");
const fileInput = $("file-input");
let uploadQueue = Promise.resolve();

function uploadItem(file) {
  const bar = el("progress", { max: 1, value: 0, "aria-label": `Upload of ${file.name}` });
  const status = el("span", { class: "upload-status muted small", text: "Waiting…" });
  const item = el("li", { class: "upload", "data-state": "waiting" },
    el("div", { class: "upload-head" },
      el("span", { class: "upload-name", text: file.name }),
      el("span", { class: "upload-size muted small", text: formatBytes(file.size) })),
    el("div", { class: "row-progress" }, bar, status));
  item.bar = bar;
  item.status = status;
  return item;
}

function setUpload(item, state, text, fraction = null) {
  item.dataset.state = state;
  item.status.textContent = text;
  if (fraction !== null) item.bar.value = fraction;
  item.bar.hidden = state === "failed" || state === "ready";
  item.status.classList.toggle("muted", state !== "failed");
}

function showUploadSource(item, source) {
  const status = busyStatus(source);
  const state = source.job_id ? jobStates.get(Number(source.job_id)) : null;
  if (status === "ready") {
    const count = Number(source.chunk_count) || 0;
    setUpload(item, "ready", `Ready: ${count} chunk${count === 1 ? "" : "s"}.`, 1);
  } else if (status === "failed") {
    setUpload(item, "failed", `Failed: ${source.error || "the file could not be read."}`);
  } else if (status === "processing" || (state && state.status === "running")) {
    const fraction = state ? Number(state.progress) || 0 : 0;
    setUpload(item, "processing", `Uploaded; processing… ${percent(fraction)}`, fraction);
  } else {
    setUpload(item, "processing", "Uploaded; queued for processing…", 0);
  }
}

async function uploadOne(file, item) {
  if (maxUploadBytes && file.size > maxUploadBytes) {
    setUpload(item, "failed", `Too large to upload: the limit is ${data.maxUploadMb} MB per file (this one is ${formatBytes(file.size)}).`);
    return;
  }
  setUpload(item, "uploading", "Uploading… 0%", 0);
  try {
    const answer = await uploadFile(data.sourcesApi, file, (fraction) => {
      setUpload(item, "uploading", `Uploading… ${percent(fraction)}`, fraction);
    });
    const created = answer.sources || (answer.source ? [answer.source] : []);
    const jobs = answer.jobs || (answer.job_id ? [answer.job_id] : []);
    created.forEach((source, index) => {
      uploads.set(Number(source.id), item);
      addSource(source, jobs[index]);
    });
    if (created[0]) showUploadSource(item, sources.find((source) => source.id === created[0].id) || created[0]);
  } catch (error) {
    setUpload(item, "failed", error.message);
  }
}

function addFiles(fileList) {
  const files = [...fileList];
  if (!files.length) return;
  const list = $("upload-list");
  for (const file of files) {
    const item = uploadItem(file);
    list.prepend(item);
    // One upload at a time: each file gets the whole link, and its own answer or error.
    uploadQueue = uploadQueue.then(() => uploadOne(file, item));
  }
}

fileInput.addEventListener("change", () => {
  addFiles(fileInput.files);
  fileInput.value = "";
});

let dragDepth = 0;
dropzone.addEventListener("dragenter", (event) => {
  if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
  event.preventDefault();
  dragDepth += 1;
  dropzone.classList.add("is-dragover");
});
dropzone.addEventListener("dragover", (event) => {
  if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
dropzone.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) dropzone.classList.remove("is-dragover");
});
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  dropzone.classList.remove("is-dragover");
  if (event.dataTransfer && event.dataTransfer.files) addFiles(event.dataTransfer.files);
});
// A file dropped beside the zone would make the browser navigate to it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

/* ---------- Pasted text and web pages ---------- */

async function submitSource(form, errorNode, body) {
  const button = form.querySelector('button[type="submit"]');
  showError(errorNode, "");
  button.disabled = true;
  try {
    const answer = await api("POST", data.sourcesApi, body);
    addSource(answer.source, answer.job_id);
    form.reset();
    $("sources-title").scrollIntoView({ behavior: "smooth", block: "nearest" });
  } catch (error) {
    showError(errorNode, error.message);
  } finally {
    button.disabled = false;
  }
}

$("text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const title = $("text-title").value.trim();
  const text = $("text-body").value;
  if (!text.trim()) {
    showError($("text-error"), "Paste some text first.");
    $("text-body").focus();
    return;
  }
  submitSource(event.target, $("text-error"), { kind: "text", title: title || text.trim().split("\n")[0].slice(0, 80), text });
});

$("url-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = $("url-input").value.trim();
  if (!/^https?:\/\/\S+$/i.test(url)) {
    showError($("url-error"), "Give the full address of a page, starting with http:// or https://.");
    $("url-input").focus();
    return;
  }
  submitSource(event.target, $("url-error"), { kind: "url", url });
});

/* ---------- Search ---------- */

function queryWords(query) {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) || [];
  return [...new Set(words)].sort((a, b) => b.length - a.length);
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The text with the query's words in <mark>, built as nodes (never parsed as HTML). */
function highlighted(text, words) {
  const node = el("p", { class: "hit-text" });
  if (!words.length) {
    node.textContent = text;
    return node;
  }
  const pattern = new RegExp(`(${words.map(escapeRegExp).join("|")})`, "giu");
  text.split(pattern).forEach((part, index) => {
    if (!part) return;
    node.append(index % 2 === 1 ? el("mark", { text: part }) : document.createTextNode(part));
  });
  return node;
}

function score(value) {
  const number = Number(value);
  return Number.isFinite(number) ? number.toFixed(3) : "—";
}

function safeHref(url) {
  if (!url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function citationLink(hit) {
  const citation = hit.citation || {};
  const label = citation.label || `${hit.source_title || "Source"} #${hit.index}`;
  const href = safeHref(citation.url) || `${urlFor(data.sourceUrl, hit.source_id)}#chunk-${Number(hit.index)}`;
  const external = !href.startsWith("/") && new URL(href).origin !== location.origin;
  const link = el("a", { class: "hit-citation", href, text: label });
  if (external) {
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
  }
  return link;
}

function hitItem(hit, rank, words) {
  const title = el("div", { class: "hit-title" },
    el("span", { class: "hit-source", text: hit.source_title || "Untitled source" }));
  if (hit.heading) title.append(el("span", { class: "hit-heading", text: hit.heading }));
  return el("li", { class: "hit", "data-source-id": String(hit.source_id) },
    el("span", { class: "hit-rank", "aria-hidden": "true", text: String(rank) }),
    el("div", { class: "hit-body" },
      el("div", { class: "hit-top" },
        title,
        el("span", { class: "hit-scores" },
          el("span", { class: "badge badge-accent hit-score", title: "Combined score", text: score(hit.score) }),
          el("span", { class: "muted small hit-subscores", text: `vector ${score(hit.vector_score)} · keyword ${score(hit.keyword_score)}` }))),
      highlighted(hit.text || "", words),
      el("p", { class: "hit-cite small" },
        el("span", { class: "muted", text: "Source: " }), citationLink(hit),
        el("span", { class: "muted", text: ` · chunk #${Number(hit.index)}` }))));
}

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("search-q").value.trim();
  const status = $("search-status");
  showError($("search-error"), "");
  if (!query) {
    $("search-q").focus();
    return;
  }
  const button = event.target.querySelector('button[type="submit"]');
  button.disabled = true;
  status.textContent = "Searching…";
  try {
    const params = new URLSearchParams({ q: query, k: $("search-k").value });
    const answer = await api("GET", `${data.searchApi}?${params}`);
    const hits = answer.hits || [];
    const words = queryWords(query);
    $("search-results").replaceChildren(...hits.map((hit, index) => hitItem(hit, index + 1, words)));
    status.textContent = hits.length
      ? `${hits.length} result${hits.length === 1 ? "" : "s"} for “${query}”.`
      : `Nothing matched “${query}”.`;
    $("search-took").textContent = answer.took_ms != null ? `${Math.round(answer.took_ms)} ms` : "";
  } catch (error) {
    status.textContent = "";
    $("search-results").replaceChildren();
    showError($("search-error"), error.message);
  } finally {
    button.disabled = false;
  }
});

/* ---------- Re-embed and delete ---------- */

function showReembed(state) {
  $("reembed-progress").hidden = false;
  $("reembed-bar").value = state.status === "succeeded" ? 1 : Number(state.progress) || 0;
  const label = $("reembed-label");
  switch (state.status) {
    case "succeeded":
      label.textContent = "Re-embedded.";
      break;
    case "failed":
      label.textContent = "Failed.";
      showError($("reembed-error"), state.error || "Re-embedding failed.");
      break;
    case "cancelled":
      label.textContent = "Cancelled.";
      break;
    case "running":
      label.textContent = `Re-embedding… ${percent(state.progress)}`;
      break;
    default:
      label.textContent = "Queued…";
  }
  const finished = FINISHED.has(state.status);
  $("reembed-form").querySelector('button[type="submit"]').disabled = !finished;
  if (finished) {
    reembedJobId = null;
    api("GET", data.baseApi).then((answer) => answer.base && showBase(answer.base)).catch(() => {});
    refreshSoon();
  }
}

$("reembed-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const model = $("reembed-model").value.trim();
  showError($("reembed-error"), "");
  if (!model) {
    showError($("reembed-error"), "Give the name of an embedding model.");
    return;
  }
  const button = event.target.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const answer = await api("POST", data.reembedApi, { model });
    reembedJobId = Number(answer.job_id);
    showReembed({ status: "pending", progress: 0 });
    follower.follow(reembedJobId);
  } catch (error) {
    showError($("reembed-error"), error.message);
    button.disabled = false;
  }
});

$("kb-delete").addEventListener("click", async (event) => {
  const name = $("kb-name").textContent;
  if (!(await confirmDialog({ title: `Delete the knowledge base “${name}”?`,
    message: "All its sources and chunks go with it; this cannot be undone.", confirmLabel: "Delete", danger: true }))) return;
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await api("DELETE", data.baseApi);
    location.assign(data.indexUrl);
  } catch (error) {
    showError($("kb-delete-error"), error.message);
    button.disabled = false;
  }
});

/* ---------- Start ---------- */

scriptReady();

refreshSources();
