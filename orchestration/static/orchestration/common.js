// What the orchestrator pages share: JSON calls, field errors, numbers as people read them. The DOM
// builder, times and the live `task:*` follower come from the browser pages' module. Model output and
// everything users typed go into the DOM as text (or as sanitised markdown, markdown.js).
import { FINISHED, TaskFollower, badge, csrf, el, formatTime, setBadge } from "../browser/common.js";

export { FINISHED, TaskFollower, badge, el, formatTime, setBadge };

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code || "";
  }
}

/** A JSON call with the CSRF header; rejects with an ApiError carrying the server's message. */
export async function api(method, url, body, { headers = {} } = {}) {
  const options = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET") options.headers["X-CSRFToken"] = csrf();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError("The server could not be reached; check the connection and try again.", 0);
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    /* 204, or a proxy's error page */
  }
  if (!response.ok) {
    const message = data.error || data.message || `The server answered ${response.status}.`;
    throw new ApiError(String(message), response.status, data.code);
  }
  return data;
}

export { scriptReady } from "../js/ready.js";

/** A fresh idempotency key: a double click or a retried request makes one task, not two. */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Points a URL template like /orchestration/api/tasks/0 at an object. */
export function urlFor(template, id) {
  return template.replace(/\/0(\/|$)/, `/${Number(id)}$1`);
}

export function jsonData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

export { localTimes } from "../js/time.js";

export function timeEl(iso, className = "") {
  if (!iso) return el("span", { class: "muted", text: "—" });
  return el("time", { dateTime: iso, class: className, text: formatTime(iso) });
}

/* ---------- Field errors: shown under the field, announced, tied to it with aria-describedby ---------- */

let errorCounter = 0;

/** The message under `control` (an input, or a fieldset/div for a group); "" clears it. */
export function setFieldError(control, message) {
  if (!control) return;
  const holder = control.closest(".field, .orch-field, fieldset") || control.parentElement;
  let node = holder.querySelector(":scope > .field-error");
  if (!message) {
    if (node) node.remove();
    control.removeAttribute("aria-invalid");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("ferr-"));
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
    return;
  }
  if (!node) {
    errorCounter += 1;
    node = el("p", { class: "field-error", id: `ferr-${errorCounter}`, role: "alert" });
    // Right under the control when it sits directly in its field, else at the end of the group.
    if (control.parentElement === holder && control !== holder) control.after(node);
    else holder.append(node);
  }
  node.textContent = message;
  control.setAttribute("aria-invalid", "true");
  const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  described.add(node.id);
  control.setAttribute("aria-describedby", [...described].join(" "));
}

export function clearFieldErrors(root) {
  for (const node of root.querySelectorAll(".field-error")) node.remove();
  for (const node of root.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("ferr-"));
    if (described.length) node.setAttribute("aria-describedby", described.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

/** Focus the first field with an error (and bring it into view). */
export function focusFirstError(root) {
  const first = root.querySelector('[aria-invalid="true"]');
  if (!first) return;
  first.scrollIntoView({ block: "center", behavior: "smooth" });
  if (typeof first.focus === "function") first.focus({ preventScroll: true });
}

/* ---------- Numbers ---------- */

export function formatMs(ms) {
  const value = Number(ms);
  if (ms == null || !Number.isFinite(value)) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)} s` : `${Math.round(value)} ms`;
}

export function percent(fraction) {
  if (fraction == null || !Number.isFinite(Number(fraction))) return "—";
  return `${Math.round(Math.min(1, Math.max(0, Number(fraction))) * 100)}%`;
}

/** "good" | "fair" | "poor" for a score where higher is better (flip for a risk). */
export function scoreLevel(score, { higherIsBetter = true } = {}) {
  if (score == null || !Number.isFinite(Number(score))) return "none";
  const value = higherIsBetter ? Number(score) : 1 - Number(score);
  return value >= 0.75 ? "good" : value >= 0.5 ? "fair" : "poor";
}

export const STRATEGY_TEXT = { cross_validate: "Cross-validate", vote: "Vote", judge: "Judge" };

/** The label's letter for answer slot 0, 1, … (A, B, … AA past Z), as the server names them. */
export function slotLabel(slot) {
  let letters = "";
  let n = Number(slot) + 1;
  while (n > 0) {
    const rest = (n - 1) % 26;
    letters = String.fromCharCode(65 + rest) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}

export function icon(name, className = "icon icon-sm") {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  const sprite = document.querySelector("[data-icons]")?.dataset.icons || "/static/img/icons.svg";
  use.setAttribute("href", `${sprite}#${name}`);
  svg.append(use);
  return svg;
}

/** Runs `fn` at most once per `ms`, and once more after the last call (for refetching on updates). */
export function throttled(fn, ms) {
  let timer = null;
  let running = null;
  let again = false;
  let last = 0;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    last = Date.now();
    running = Promise.resolve().then(fn).catch((error) => console.warn(error));
    await running;
    running = null;
    if (again) {
      again = false;
      schedule();
    }
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, ms - (Date.now() - last)));
  };
  return schedule;
}
