/*
 * What every chat module shares: the page's elements and URLs, its state, the one socket, and a few
 * small helpers (icons drawn from paths, the composer's error line, the backends banner). A leaf module:
 * it imports nothing of the chat's own.
 */

export const app = document.getElementById("chat-app");
export const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
export const NEAR_BOTTOM_PX = 80;
export const HEALTH_EVERY_MS = 30_000;
export const STOP_GRACE_MS = 10_000;
export const STALL_AFTER_MS = 15_000; // no frame for this long: ask the history whether the answer ended
export const VALIDATE_KEY = "chat.validate"; // localStorage: "1" when answers are to be checked
// Frames that keep a chat:send / chat:resume request open; anything else ends it (ws.js would end it
// at chat:validating, and the chat:done after it would then reach no request).
export const ANSWER_PROGRESS = new Set(["chat:started", "chat:streaming", "chat:validating"]);
export const answerIsTerminal = (frame) => !ANSWER_PROGRESS.has(frame.type);

export const els = {
  banner: $("backend-banner"),
  sidebar: $("chat-sidebar"),
  sidebarToggle: $("sidebar-toggle"),
  sidebarClose: $("sidebar-close"),
  backdrop: $("sidebar-backdrop"),
  list: $("conversation-list"),
  search: $("conversation-search"),
  searchStatus: $("conversation-search-status"),
  title: $("chat-title"),
  modelSelect: $("model-select"),
  connection: $("connection-status"),
  settings: $("chat-settings"),
  settingsForm: $("settings-form"),
  settingsPrompt: $("settings-system-prompt"),
  settingsStatus: $("settings-status"),
  settingsSummary: $("settings-summary"),
  settingsModelName: $("settings-model-name"),
  settingsKbList: $("settings-kb-list"),
  settingsValidate: $("settings-validate"),
  scroller: $("messages"),
  messageList: $("message-list"),
  loadOlder: $("load-older"),
  empty: $("chat-empty"),
  historyStatus: $("history-status"),
  jump: $("jump-latest"),
  typing: $("typing-indicator"),
  composer: $("composer"),
  input: $("composer-input"),
  send: $("send-button"),
  stop: $("stop-button"),
  composerError: $("composer-error"),
  dialog: $("chat-dialog"),
};

export const urls = {
  newChat: app.dataset.newUrl || "/chat/",
  conversationPage: app.dataset.conversationUrl || "/chat/c/0/",
  conversations: app.dataset.conversationsApi || "/chat/api/conversations",
  conversation: app.dataset.conversationApi || "/chat/api/conversations/0",
  rate: app.dataset.rateApi || "/chat/api/messages/0/rate",
  regenerate: app.dataset.regenerateApi || "/chat/api/messages/0/regenerate",
  show: app.dataset.showApi || "/chat/api/messages/0/show",
  models: app.dataset.modelsApi || "/models/api/models",
  health: app.dataset.healthApi || "/healthz",
  bases: app.dataset.basesApi || "/knowledge/api/bases",
  knowledge: app.dataset.knowledgeUrl || "/knowledge/",
};

export const state = {
  conversationId: Number(app.dataset.conversationId) || null,
  conversationModel: app.dataset.conversationModel || "",
  systemPrompt: els.settingsPrompt ? els.settingsPrompt.value : "",
  messages: new Map(), // id -> record
  streaming: new Set(), // records being written
  pendingSend: null, // {content, userRec, started}
  historyLoaded: false,
  historyLoading: false,
  hasMore: false,
  oldestId: null,
  stick: true,
  reloadOnReconnect: false,
  md: null, // {marked, DOMPurify} once loaded
  kbIds: idList(app.dataset.conversationKbIds), // the knowledge bases ticked in the settings
  kbSaved: idList(app.dataset.conversationKbIds), // the ones the conversation has on the server
  bases: null, // the user's knowledge bases, once listed
  validate: storedValidate(),
};

/** The page's socket (kit/ws), set once by chat.js's main(). */
export let ws = null;
export function setSocket(socket) {
  ws = socket;
}

export function idList(text) {
  return String(text || "")
    .split(",")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function sameIds(a, b) {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export function storedValidate() {
  try {
    return localStorage.getItem(VALIDATE_KEY) === "1";
  } catch {
    return false; // storage disabled: off, as by default
  }
}

/* ---------- small helpers ---------- */

export const PATHS = {
  regenerate: ["M20 12a8 8 0 1 1-2.35-5.65L20 8.5", "M20 3.5v5h-5"],
  thumb: ["M7 11v9H4v-9z", "M7 11l4-7c1.4 0 2.4 1.1 2.1 2.6L12.6 10H18.5a2 2 0 0 1 2 2.4l-1.3 6A2 2 0 0 1 17.2 20H7"],
  pencil: ["M12 20h9", "M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"],
  prev: ["M15 18l-6-6 6-6"],
  next: ["M9 18l6-6-6-6"],
  trash: ["M3 6h18", "M8 6V4h8v2", "M19 6l-1 14H6L5 6", "M10 11v6M14 11v6"],
};

export function pathIcon(name, { flip = false } = {}) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "icon icon-sm");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const group = document.createElementNS(SVG_NS, "g");
  if (flip) group.setAttribute("transform", "rotate(180 12 12)");
  for (const d of PATHS[name]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    group.append(path);
  }
  svg.append(group);
  return svg;
}

export function titleFrom(content) {
  const line = content.split(/\s+/).filter(Boolean).join(" ");
  return line.length <= 60 ? line : `${line.slice(0, 59).trimEnd()}…`;
}

export function flashButton(button, ok) {
  const label = button.querySelector(".btn-label");
  const original = button.dataset.label || (label ? label.textContent : "");
  button.dataset.label = original;
  button.classList.toggle("is-copied", ok);
  if (label) label.textContent = ok ? "Copied" : "Copy failed";
  const aria = button.dataset.aria || button.getAttribute("aria-label") || "";
  button.dataset.aria = aria;
  if (aria) button.setAttribute("aria-label", ok ? "Copied" : "Copy failed");
  clearTimeout(button.flashTimer);
  button.flashTimer = setTimeout(() => {
    button.classList.remove("is-copied");
    if (label) label.textContent = original;
    if (aria) button.setAttribute("aria-label", aria);
  }, 1600);
}

export let composerErrorTimer = null;
export function showComposerError(message, { sticky = true } = {}) {
  clearTimeout(composerErrorTimer);
  els.composerError.textContent = message;
  els.composerError.hidden = !message;
  if (message && !sticky) composerErrorTimer = setTimeout(() => showComposerError(""), 6000);
}

/* ---------- health banner ---------- */

export let healthTimer = null;
export async function checkHealth() {
  clearTimeout(healthTimer);
  try {
    const response = await fetch(urls.health, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
    let data = null;
    try {
      data = await response.json(); // a 503 still carries the report
    } catch {
      data = null;
    }
    if (data && typeof data === "object") {
      const up = Number.isFinite(data.backends_up)
        ? data.backends_up
        : (Array.isArray(data.backends) ? data.backends.filter((b) => b && b.status === "up").length : 1);
      els.banner.hidden = up > 0;
    }
  } catch {
    /* unreachable server: the connection status says so */
  } finally {
    healthTimer = setTimeout(checkHealth, HEALTH_EVERY_MS);
  }
}
