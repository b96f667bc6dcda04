// What both browser pages share: the JSON API calls, a DOM builder, status badges and the live
// `task:*` subscription. Everything from the server or a scraped page goes in as text (textContent
// or attributes), never as HTML: the scraped content is hostile.

export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

const BADGE = {
  pending: "badge-neutral",
  running: "badge-accent",
  succeeded: "badge-success",
  failed: "badge-danger",
  cancelled: "badge-warning",
};
const STATUS_TEXT = { pending: "pending", running: "running", succeeded: "succeeded", failed: "failed", cancelled: "cancelled" };
const SUBTASK_TEXT = { pending: "waiting", running: "running", succeeded: "done", failed: "failed", skipped: "skipped", cancelled: "cancelled" };

export function csrf() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function request(url, options) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...options });
  } catch {
    throw new ApiError("The server could not be reached; check the connection and try again.", 0);
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    /* an empty or non-JSON body */
  }
  if (!response.ok) throw new ApiError(data.error || `The server answered ${response.status}.`, response.status);
  return data;
}

export function getJSON(url) {
  return request(url, { headers: { Accept: "application/json" } });
}

export function postJSON(url, body = {}) {
  return request(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
  });
}

/** el("a", {class: "x", href, text: "label"}, child, …): attributes by property, text via textContent. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

/** Points a URL template like /browser/api/jobs/0/cancel at a job. */
export function jobUrl(template, id) {
  return template.replace(/\/0(\/|$)/, `/${id}$1`);
}

export function setBadge(node, status) {
  node.className = `badge ${BADGE[status] || "badge-neutral"}`;
  node.textContent = STATUS_TEXT[status] || status || "unknown";
}

export function badge(status) {
  const node = el("span");
  setBadge(node, status);
  return node;
}

export function subtaskItems(subtasks) {
  return (subtasks || []).map((task) => {
    const status = task.status || "pending";
    return el("li", { class: "subtask", "data-status": status },
      el("span", { class: "subtask-dot", "aria-hidden": "true" }),
      el("span", { class: "subtask-title", text: task.title || String(task.id ?? "") }),
      el("span", { class: "subtask-status", text: SUBTASK_TEXT[status] || status }));
  });
}

export function progressText(state) {
  const percent = Math.round((Number(state.progress) || 0) * 100);
  switch (state.status) {
    case "pending": return "Queued, waiting for a browser…";
    case "running": return `Running… ${percent}%`;
    case "succeeded": return "Finished.";
    case "failed": return "Failed.";
    case "cancelled": return "Cancelled.";
    default: return state.status || "";
  }
}

export { formatTime } from "../js/time.js";

/**
 * Follows jobs over /ws: `follow(id)` subscribes (again after every reconnect), `onUpdate(state)`
 * gets each `task:update`, and a finished job is unsubscribed after its last update.
 */
export class TaskFollower {
  constructor(wsModuleUrl, onUpdate, { onStatus = null } = {}) {
    this.wsModuleUrl = wsModuleUrl;
    this.onUpdate = onUpdate;
    this.onStatus = onStatus;
    this.ids = new Set();
    this.ws = null;
    this.ready = null;
  }

  start() {
    if (!this.ready) {
      this.ready = import(this.wsModuleUrl).then((module) => {
        this.ws = module.getSocket();
        if (this.onStatus) this.ws.onStatus(this.onStatus);
        this.ws.on("task:update", (frame) => this.receive(frame));
        this.ws.onReconnect(() => {
          for (const id of this.ids) this.subscribe(id);
        });
        this.ws.connect();
        return this.ws;
      });
    }
    return this.ready;
  }

  async follow(id) {
    id = Number(id);
    if (this.ids.has(id)) return;
    this.ids.add(id);
    await this.start();
    this.subscribe(id);
  }

  subscribe(id) {
    this.ws.call({ type: "task:subscribe", task_id: id }).catch((error) => {
      // not_found: the job is gone; a lost connection is retried by onReconnect.
      if (error && error.code === "not_found") this.ids.delete(id);
    });
  }

  receive(frame) {
    if (!this.ids.has(frame.task_id)) return;
    if (FINISHED.has(frame.status)) {
      this.ids.delete(frame.task_id);
      this.ws.call({ type: "task:unsubscribe", task_id: frame.task_id }).catch(() => {});
    }
    this.onUpdate(frame);
  }
}
