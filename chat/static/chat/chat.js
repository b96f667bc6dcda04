/*
 * The chat page: conversation list, history, live streaming over /ws (static/js/ws.js),
 * markdown rendered with marked and always sanitized with DOMPurify, cancel, resume after a
 * reconnect, regenerate, ratings, per-conversation instructions, model and knowledge bases, the
 * sources an answer cites and the result of its hallucination check (both drawn once, on the final
 * render, never per streamed token).
 * The library URLs come from data- attributes (static files may be hashed in production).
 */
import { scriptReady } from "../js/ready.js";
import { formatTime } from "../js/time.js";

const app = document.getElementById("chat-app");
const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const NEAR_BOTTOM_PX = 80;
const HEALTH_EVERY_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const STALL_AFTER_MS = 15_000; // no frame for this long: ask the history whether the answer ended
const VALIDATE_KEY = "chat.validate"; // localStorage: "1" when answers are to be checked
// Frames that keep a chat:send / chat:resume request open; anything else ends it (ws.js would end it
// at chat:validating, and the chat:done after it would then reach no request).
const ANSWER_PROGRESS = new Set(["chat:started", "chat:streaming", "chat:validating"]);
const answerIsTerminal = (frame) => !ANSWER_PROGRESS.has(frame.type);

const els = {
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

const urls = {
  wsModule: app.dataset.wsModule || "/static/js/ws.js",
  markdown: app.dataset.markdownModule || "/static/js/markdown.js",
  icons: app.dataset.icons || "/static/img/icons.svg",
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

/** "/chat/api/messages/0/rate" + 12 → "/chat/api/messages/12/rate" */
function urlFor(template, id) {
  return template.replace(/\/0(?=\/|$)/, `/${id}`);
}

const state = {
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

let ws = null;

function idList(text) {
  return String(text || "")
    .split(",")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

function sameIds(a, b) {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function storedValidate() {
  try {
    return localStorage.getItem(VALIDATE_KEY) === "1";
  } catch {
    return false; // storage disabled: off, as by default
  }
}

/* ---------- small helpers ---------- */

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function spriteIcon(name, small = true) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", small ? "icon icon-sm" : "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `${urls.icons}#${name}`);
  svg.append(use);
  return svg;
}

const PATHS = {
  regenerate: ["M20 12a8 8 0 1 1-2.35-5.65L20 8.5", "M20 3.5v5h-5"],
  thumb: ["M7 11v9H4v-9z", "M7 11l4-7c1.4 0 2.4 1.1 2.1 2.6L12.6 10H18.5a2 2 0 0 1 2 2.4l-1.3 6A2 2 0 0 1 17.2 20H7"],
  pencil: ["M12 20h9", "M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z"],
  prev: ["M15 18l-6-6 6-6"],
  next: ["M9 18l6-6-6-6"],
  trash: ["M3 6h18", "M8 6V4h8v2", "M19 6l-1 14H6L5 6", "M10 11v6M14 11v6"],
};

function pathIcon(name, { flip = false } = {}) {
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

function getCookie(name) {
  const match = document.cookie.split("; ").find((row) => row.startsWith(`${name}=`));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : "";
}

function csrfToken() {
  return getCookie("csrftoken") || document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.error || data.message || data.detail)) || `The server answered ${response.status}.`;
    const error = new Error(typeof message === "string" ? message : JSON.stringify(message));
    error.status = response.status;
    throw error;
  }
  return data || {};
}

function titleFrom(content) {
  const line = content.split(/\s+/).filter(Boolean).join(" ");
  return line.length <= 60 ? line : `${line.slice(0, 59).trimEnd()}…`;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* fall back below */
    }
  }
  const helper = el("textarea", "clipboard-helper");
  helper.value = text;
  helper.setAttribute("readonly", "");
  helper.setAttribute("aria-hidden", "true");
  document.body.append(helper);
  helper.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  helper.remove();
  return ok;
}

function flashButton(button, ok) {
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

let composerErrorTimer = null;
function showComposerError(message, { sticky = true } = {}) {
  clearTimeout(composerErrorTimer);
  els.composerError.textContent = message;
  els.composerError.hidden = !message;
  if (message && !sticky) composerErrorTimer = setTimeout(() => showComposerError(""), 6000);
}

/* ---------- markdown ---------- */

let SANITIZE = null;

/** marked + DOMPurify through the shared module (static/js/markdown.js, also used by the orchestrator). */
async function loadMarkdown() {
  try {
    const shared = await import(urls.markdown);
    const md = await shared.loadMarkdown();
    if (!md) return; // the shared module said why; answers stay plain text
    SANITIZE = shared.SANITIZE;
    state.md = md;
    for (const rec of state.messages.values()) if (rec.role === "assistant") renderBody(rec);
  } catch (error) {
    console.warn("chat: markdown unavailable, showing plain text", error);
  }
}

function enhanceMarkdown(body) {
  for (const pre of body.querySelectorAll("pre")) {
    const code = pre.querySelector("code");
    const match = code && /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const wrap = el("div", "code-block");
    const head = el("div", "code-block-head");
    head.append(el("span", "code-lang", match ? match[1] : "code"));
    const button = el("button", "code-copy");
    button.type = "button";
    button.setAttribute("aria-label", `Copy ${match ? match[1] + " " : ""}code`);
    button.append(spriteIcon("i-copy"), el("span", "btn-label", "Copy"));
    head.append(button);
    pre.replaceWith(wrap);
    wrap.append(head, pre);
  }
  for (const table of body.querySelectorAll("table")) {
    const wrap = el("div", "table-scroll");
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

function renderBody(rec) {
  rec.renderQueued = false;
  const body = rec.body;
  if (rec.role !== "assistant" || !state.md) {
    body.classList.add("is-plain");
    setText(body, rec.content);
    decorateBody(rec);
    return;
  }
  body.classList.remove("is-plain");
  let html;
  try {
    html = state.md.DOMPurify.sanitize(state.md.marked.parse(rec.content, { gfm: true, breaks: true }), SANITIZE);
  } catch (error) {
    console.warn("chat: markdown failed", error);
    body.classList.add("is-plain");
    setText(body, rec.content);
    decorateBody(rec);
    return;
  }
  body.innerHTML = html;
  enhanceMarkdown(body);
  decorateBody(rec);
}

function scheduleRender(rec) {
  if (rec.renderQueued) return;
  rec.renderQueued = true;
  requestAnimationFrame(() => {
    if (!rec.renderQueued) return;
    renderBody(rec);
    followBottom();
  });
}

function renderNow(rec) {
  renderBody(rec);
  followBottom();
}

/* ---------- citations and the hallucination check (final render only) ---------- */

const VERDICTS = {
  supported: "Supported",
  uncertain: "Uncertain",
  likely_hallucinated: "Likely hallucinated",
  hallucinated: "Likely hallucinated",
  unchecked: "Not checked",
};
const CITE_RE = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
const NO_CITES_IN = "pre, code, a, kbd, samp"; // [n] there is code or already a link
const NO_CLAIMS_IN = "pre, code";

function fixed2(value) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(2) : "";
}

function verdictOf(validation) {
  const verdict = validation && typeof validation.verdict === "string" ? validation.verdict : "unchecked";
  return VERDICTS[verdict] ? verdict : "unchecked";
}

/** Only same-site paths and http(s) addresses become links; anything else (javascript:, data:) does not. */
function safeHref(value) {
  const text = String(value || "").trim();
  if (text.startsWith("/") && !text.startsWith("//")) return text;
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch {
    /* not a URL */
  }
  return "";
}

function sourceLabel(c) {
  return c.source_title || c.heading || `Source ${c.n}`;
}

/** The text nodes under root, in document order, leaving out those inside `skip` elements. */
function textNodesOf(root, skip) {
  const nodes = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.nodeValue || (parent && parent !== root && parent.closest(skip) && root.contains(parent.closest(skip)))) continue;
    nodes.push(node);
  }
  return nodes;
}

function decorateBody(rec) {
  if (rec.role !== "assistant" || rec.status === "streaming") return;
  if (rec.validation) highlightClaims(rec);
  if (rec.citations.length) linkCitations(rec);
}

/** Every [n] (or [1, 2]) that names a citation becomes a superscript link to its source. */
function linkCitations(rec) {
  const byN = new Map();
  for (const c of rec.citations) if (c && Number.isInteger(Number(c.n))) byN.set(Number(c.n), c);
  if (!byN.size) return;
  for (const node of textNodesOf(rec.body, NO_CITES_IN)) {
    const text = node.nodeValue;
    if (!text.includes("[")) continue;
    let fragment = null;
    let last = 0;
    for (const match of text.matchAll(CITE_RE)) {
      const ns = match[1].split(",").map((n) => Number(n.trim()));
      if (!ns.every((n) => byN.has(n))) continue;
      fragment ??= document.createDocumentFragment();
      // A no-break space before the marker keeps it on the line of the word it belongs to.
      fragment.append(text.slice(last, match.index).replace(/ $/, "\u00a0"));
      const sup = el("sup", "cite");
      ns.forEach((n, i) => {
        if (i) sup.append(",");
        sup.append(citeLink(byN.get(n)));
      });
      fragment.append(sup);
      last = match.index + match[0].length;
    }
    if (!fragment) continue;
    fragment.append(text.slice(last));
    node.replaceWith(fragment);
  }
}

function citeLink(c) {
  const href = safeHref(c.page) || safeHref(c.url);
  const link = el(href ? "a" : "span", "cite-ref", String(c.n));
  const label = `${sourceLabel(c)}${c.kb_name ? ` — ${c.kb_name}` : ""}`;
  link.title = c.excerpt ? `[${c.n}] ${label}\n${c.excerpt}` : `[${c.n}] ${label}`;
  link.setAttribute("aria-label", `Source ${c.n}: ${label}`);
  if (href) {
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
  }
  return link;
}

/** The sentence as it reads once rendered: markdown punctuation off, whitespace collapsed. */
function renderedText(markdown) {
  return String(markdown)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)/gm, "")
    .replace(/`+|\*\*|__|~~/g, "")
    .replace(/(^|[\s(])[*_](?=\S)/g, "$1")
    .replace(/(\S)[*_](?=[\s).,;:!?]|$)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

function flaggedSentences(validation) {
  const sentences = Array.isArray(validation.sentences) ? validation.sentences : [];
  return sentences.filter((s) => s && typeof s.text === "string" && s.text.trim() && s.label && s.label !== "supported");
}

function claimClass(label) {
  return label === "uncertain" ? "claim--uncertain" : "claim--hallucinated";
}

function evidenceText(evidence) {
  if (!evidence || typeof evidence !== "object") return "";
  return Object.entries(evidence)
    .filter(([, text]) => text)
    .map(([name, text]) => `${name}: ${Array.isArray(text) ? text.join("; ") : text}`)
    .join("\n");
}

/**
 * Wraps each flagged sentence in <mark class="claim …">, found on the rendered text nodes (whitespace
 * collapsed); a sentence that crosses formatting is marked piece by piece. One that cannot be found
 * (changed by the rendering) is only listed in the check details; rec.unplaced counts them.
 */
function highlightClaims(rec) {
  rec.unplaced = 0;
  const flagged = flaggedSentences(rec.validation);
  if (!flagged.length) return;
  const nodes = textNodesOf(rec.body, NO_CLAIMS_IN);
  const chars = [];
  const where = []; // where[i] = [node index, offset] of chars[i]
  let space = true;
  nodes.forEach((node, ni) => {
    const text = node.nodeValue;
    for (let i = 0; i < text.length; i += 1) {
      const blank = /\s/.test(text[i]);
      if (blank && space) continue;
      chars.push(blank ? " " : text[i]);
      where.push([ni, i]);
      space = blank;
    }
  });
  const rendered = chars.join("");
  const pieces = new Map(); // node index -> [[start, end, sentence]]
  let cursor = 0;
  for (const sentence of flagged) {
    const needle = renderedText(sentence.text);
    if (!needle) continue;
    let at = rendered.indexOf(needle, cursor);
    if (at < 0) at = rendered.indexOf(needle);
    if (at < 0) {
      rec.unplaced += 1;
      continue;
    }
    cursor = at + needle.length;
    for (let i = at; i < at + needle.length; ) {
      const [ni, start] = where[i];
      let j = i;
      while (j + 1 < at + needle.length && where[j + 1][0] === ni) j += 1;
      if (!pieces.has(ni)) pieces.set(ni, []);
      pieces.get(ni).push([start, where[j][1] + 1, sentence]);
      i = j + 1;
    }
  }
  for (const [ni, list] of pieces) {
    list.sort((a, b) => b[0] - a[0]); // from the end, so earlier offsets stay valid
    for (const [start, end, sentence] of list) {
      const node = nodes[ni];
      if (!node.nodeValue.slice(start, end).trim()) continue;
      const piece = node.splitText(start);
      piece.splitText(end - start);
      const mark = el("mark", `claim ${claimClass(sentence.label)}`);
      const why = evidenceText(sentence.evidence);
      const score = fixed2(sentence.score);
      mark.title = `${VERDICTS[sentence.label] || "Flagged"}${score ? ` (risk ${score})` : ""}${why ? `\n${why}` : ""}`;
      mark.dataset.sentence = String(sentence.index ?? "");
      piece.replaceWith(mark);
      mark.append(piece);
    }
  }
}

/** The verdict badge, the notice, the sources list, a grounding warning and the check details. */
function renderExtras(rec) {
  if (rec.role !== "assistant" || !rec.extras) return;
  const v = rec.validation;
  const finished = rec.status !== "streaming";
  rec.verdict.hidden = !(v && finished);
  rec.notice.hidden = true;
  const parts = [];
  if (v && finished) {
    const verdict = verdictOf(v);
    const score = verdict === "unchecked" ? "" : fixed2(v.score);
    rec.verdict.dataset.verdict = verdict;
    setText(rec.verdict, score ? `${VERDICTS[verdict]} · ${score}` : VERDICTS[verdict]);
    rec.verdict.title = verdict === "unchecked"
      ? `Not checked for hallucinations${v.error ? `: ${v.error}` : ""}`
      : `Hallucination check: risk ${score} of 1 (0 means well supported). “Check details” below says why.`;
    const notice = typeof v.notice === "string" ? v.notice.trim() : "";
    if (notice) {
      rec.notice.dataset.verdict = verdict;
      rec.notice.replaceChildren(spriteIcon(verdict === "supported" ? "i-info" : "i-alert"), el("p", null, notice));
      rec.notice.hidden = false;
    }
  }
  if (finished && rec.citations.length) parts.push(sourcesList(rec));
  if (finished && rec.groundingWarning) {
    const note = el("p", "grounding-warning");
    note.append(spriteIcon("i-info"), el("span", null, `No sources used: ${rec.groundingWarning}.`));
    parts.push(note);
  }
  if (v && finished) parts.push(checkDetails(rec));
  rec.extras.replaceChildren(...parts);
  rec.extras.hidden = !parts.length;
}

function sourcesList(rec) {
  const section = el("section", "message-sources");
  const headingId = `sources-${rec.id ?? Math.random().toString(36).slice(2)}`;
  const heading = el("h3", "message-sources-title", "Sources");
  heading.id = headingId;
  section.setAttribute("aria-labelledby", headingId);
  const list = el("ol", "source-list");
  for (const c of rec.citations) {
    if (!c) continue;
    const item = el("li", "source-item");
    item.dataset.n = String(c.n);
    const row = el("div", "source-row");
    row.append(el("span", "source-n", `[${c.n}]`));
    const href = safeHref(c.page) || safeHref(c.url);
    const title = el(href ? "a" : "span", "source-title", sourceLabel(c));
    if (href) {
      title.href = href;
      title.target = "_blank";
      title.rel = "noopener";
    }
    if (c.excerpt) title.title = c.excerpt;
    row.append(title);
    const meta = [c.kb_name, c.heading && c.heading !== c.source_title ? c.heading : ""].filter(Boolean).join(" · ");
    if (meta) row.append(el("span", "source-meta", `— ${meta}`));
    const original = safeHref(c.url);
    if (original && /^https?:/.test(original) && original !== href) {
      const link = el("a", "source-original", new URL(original).host);
      link.href = original;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.title = `The original page: ${original}`;
      row.append(link);
    }
    item.append(row);
    if (c.excerpt) {
      const quote = el("blockquote", "source-excerpt", c.excerpt);
      quote.id = `${headingId}-${c.n}`;
      quote.hidden = true;
      const toggle = el("button", "source-toggle", "Excerpt");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", quote.id);
      toggle.setAttribute("aria-label", `Excerpt of source ${c.n}`);
      row.append(toggle);
      item.append(quote);
    }
    list.append(item);
  }
  section.append(heading, list);
  return section;
}

/** "Check details": the summary now, the contents when first opened (most are never opened). */
function checkDetails(rec) {
  const details = el("details", "check-details");
  const v = rec.validation;
  const flagged = flaggedSentences(v).length;
  const summary = el("summary", null, "Check details");
  if (flagged) summary.append(el("span", "check-count", `${flagged} sentence${flagged === 1 ? "" : "s"} flagged`));
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.built) {
      details.dataset.built = "1";
      details.append(checkDetailsBody(rec));
    }
  });
  return details;
}

function table(headers, rows, className) {
  const wrap = el("div", "table-scroll");
  const t = el("table", `check-table ${className || ""}`.trim());
  const head = el("tr");
  for (const h of headers) {
    const th = el("th", null, h);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const row of rows) tbody.append(row);
  t.append(thead, tbody);
  wrap.append(t);
  return wrap;
}

function cells(values) {
  const tr = el("tr");
  for (const value of values) {
    const td = el("td");
    td.append(value);
    tr.append(td);
  }
  return tr;
}

function checkDetailsBody(rec) {
  const v = rec.validation;
  const body = el("div", "check-body");
  const verdict = verdictOf(v);
  const bits = [];
  if (verdict !== "unchecked" && fixed2(v.score)) bits.push(`Risk ${fixed2(v.score)} of 1 (0 means well supported, 1 hallucinated).`);
  if (typeof v.ms === "number") bits.push(`Checked in ${v.ms >= 1000 ? `${(v.ms / 1000).toFixed(1)} s` : `${Math.round(v.ms)} ms`}.`);
  if (v.replaced) bits.push("The answer shown is a rewrite, not the one that streamed.");
  if (bits.length) body.append(el("p", "check-lead", bits.join(" ")));
  if (v.error) body.append(el("p", "check-error", `The check itself failed: ${v.error}`));

  const signals = Array.isArray(v.signals) ? v.signals.filter(Boolean) : [];
  if (signals.length) {
    body.append(el("h4", null, "Signals"));
    body.append(table(["Signal", "Score", "Weight", "Evidence"], signals.map((s) => {
      const evidence = Array.isArray(s.evidence) ? s.evidence.join("; ") : String(s.evidence ?? "");
      const row = cells([s.title || s.name, s.score == null ? "not used" : fixed2(s.score), fixed2(s.weight), evidence]);
      row.dataset.signal = s.name || "";
      if (s.used === false || s.score == null) row.classList.add("is-unused");
      return row;
    }), "check-signals"));
  }

  const flagged = flaggedSentences(v);
  if (flagged.length) {
    body.append(el("h4", null, "Flagged sentences"));
    const list = el("ol", "check-sentences");
    for (const s of flagged) {
      const item = el("li");
      const label = el("span", `claim-label ${claimClass(s.label)}`, `${VERDICTS[s.label] || s.label}${fixed2(s.score) ? ` · ${fixed2(s.score)}` : ""}`);
      item.append(label, el("q", null, renderedText(s.text)));
      const reasons = Object.entries(s.evidence && typeof s.evidence === "object" ? s.evidence : {}).filter(([, t]) => t);
      if (reasons.length) {
        const why = el("ul", "check-reasons");
        for (const [name, text] of reasons) {
          const li = el("li");
          li.append(el("strong", null, `${name}: `), Array.isArray(text) ? text.join("; ") : String(text));
          why.append(li);
        }
        item.append(why);
      }
      list.append(item);
    }
    body.append(list);
    if (rec.unplaced) {
      body.append(el("p", "muted small", `${rec.unplaced} of them could not be highlighted in the text (their formatting differs).`));
    }
  }

  const checks = Array.isArray(v.checks) ? v.checks.filter(Boolean) : [];
  if (checks.length) {
    body.append(el("h4", null, "Basic checks"));
    const list = el("ul", "check-list");
    for (const c of checks) {
      const item = el("li");
      item.dataset.passed = String(Boolean(c.passed));
      item.append(el("span", "check-mark", c.passed ? "Passed" : "Failed"), ` ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
      list.append(item);
    }
    body.append(list);
  }

  const attempts = Array.isArray(v.attempts) ? v.attempts.filter(Boolean) : [];
  if (attempts.length > 1) {
    body.append(el("h4", null, "Attempts"));
    body.append(table(["#", "Strategy", "Model", "Temperature", "Score", "Verdict", ""], attempts.map((a, i) => {
      const chosen = i === v.chosen;
      const row = cells([
        String(i + 1),
        String(a.strategy || "").replaceAll("_", " "),
        a.model || "",
        a.temperature == null ? "default" : String(a.temperature),
        fixed2(a.score),
        VERDICTS[a.verdict] || a.verdict || "",
        chosen ? "shown" : "",
      ]);
      if (chosen) {
        row.classList.add("is-chosen");
        row.setAttribute("aria-current", "true");
      }
      return row;
    }), "check-attempts"));
  }
  return body;
}

/* ---------- scrolling ---------- */

function distanceFromBottom() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

function scrollToBottom(smooth = false) {
  const s = els.scroller;
  if (smooth && s.scrollTo) s.scrollTo({ top: s.scrollHeight, behavior: "smooth" });
  else s.scrollTop = s.scrollHeight;
  state.stick = true;
  els.jump.hidden = true;
}

function followBottom() {
  if (state.stick) scrollToBottom();
  else els.jump.hidden = distanceFromBottom() <= NEAR_BOTTOM_PX;
}

/* ---------- messages ---------- */

const STATUS_BADGES = { partial: "Stopped early", failed: "Failed" };

function actionButton(className, label, icon, pressed = null) {
  const button = el("button", `message-action ${className}`);
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.title = label;
  if (pressed !== null) button.setAttribute("aria-pressed", String(pressed));
  button.append(icon);
  return button;
}

function buildMessage(rec) {
  const node = el("div", `message message--${rec.role}`);
  node.dataset.role = rec.role;
  node.dataset.messageId = rec.id != null ? String(rec.id) : "";
  node.dataset.status = rec.status;

  if (rec.role === "assistant") {
    const avatar = el("div", "message-avatar", "AI");
    avatar.setAttribute("aria-hidden", "true");
    node.append(avatar);
  }
  const main = el("div", "message-main");
  const head = el("div", "message-head");
  head.append(el("span", "message-author", rec.role === "assistant" ? "Assistant" : "You"));
  rec.badge = el("span", "message-badge");
  rec.badge.hidden = true;
  head.append(rec.badge);
  main.append(head);

  if (rec.role === "assistant") {
    rec.verdict = el("span", "message-verdict");
    rec.verdict.hidden = true;
    head.append(rec.verdict);
    rec.notice = el("div", "message-notice");
    rec.notice.setAttribute("role", "note");
    rec.notice.hidden = true;
    main.append(rec.notice);
  }

  rec.body = el("div", "message-body");
  main.append(rec.body);

  if (rec.role === "assistant") {
    rec.extras = el("div", "message-extras");
    rec.extras.hidden = true;
    main.append(rec.extras);

    rec.errorBox = el("div", "message-error");
    rec.errorBox.setAttribute("role", "alert");
    rec.errorBox.hidden = true;
    rec.errorText = el("span", "message-error-text");
    const retry = el("button", "btn btn-secondary btn-sm action-retry");
    retry.type = "button";
    retry.append(pathIcon("regenerate"), el("span", "btn-label", "Retry"));
    retry.setAttribute("aria-label", "Retry: write a new answer");
    rec.errorBox.append(spriteIcon("i-alert"), rec.errorText, retry);
    main.append(rec.errorBox);

    const footer = el("div", "message-footer");
    const actions = el("div", "message-actions");
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", "Answer actions");
    rec.rateUp = actionButton("action-rate-up", "Good answer", pathIcon("thumb"), rec.rating === 1);
    rec.rateDown = actionButton("action-rate-down", "Bad answer", pathIcon("thumb", { flip: true }), rec.rating === -1);
    actions.append(
      actionButton("action-copy", "Copy answer", spriteIcon("i-copy")),
      actionButton("action-regenerate", "Regenerate answer", pathIcon("regenerate")),
      rec.rateUp,
      rec.rateDown,
    );
    rec.versionNav = el("div", "message-versions");
    rec.versionNav.setAttribute("role", "group");
    rec.versionNav.setAttribute("aria-label", "Versions of this answer");
    rec.versionPrev = actionButton("action-version-prev", "Previous version", pathIcon("prev"));
    rec.versionNext = actionButton("action-version-next", "Next version", pathIcon("next"));
    rec.versionLabel = el("span", "message-versions-label");
    rec.versionLabel.setAttribute("aria-live", "polite");
    rec.versionNav.append(rec.versionPrev, rec.versionLabel, rec.versionNext);
    rec.meta = el("span", "message-meta");
    footer.append(rec.versionNav, actions, rec.meta);
    renderVersions(rec);
    main.append(footer);

    rec.noteForm = el("form", "rating-note");
    rec.noteForm.hidden = true;
    const noteId = `rating-note-${rec.id ?? Math.random().toString(36).slice(2)}`;
    const label = el("label", "rating-note-label", "What was wrong with this answer? (optional)");
    label.htmlFor = noteId;
    const input = el("input", "rating-note-input");
    input.type = "text";
    input.id = noteId;
    input.maxLength = 2000;
    input.autocomplete = "off";
    rec.noteInput = input;
    const save = el("button", "btn btn-primary btn-sm rating-note-save", "Send feedback");
    save.type = "submit";
    const skip = el("button", "btn btn-ghost btn-sm rating-note-skip", "Skip");
    skip.type = "button";
    const row = el("div", "rating-note-row");
    row.append(input, save, skip);
    rec.noteForm.append(label, row);
    rec.noteThanks = el("p", "rating-thanks muted small");
    rec.noteThanks.setAttribute("role", "status");
    rec.noteThanks.hidden = true;
    main.append(rec.noteForm, rec.noteThanks);
  }
  node.append(main);
  rec.el = node;
  node.chatRecord = rec;
  return node;
}

function makeRecord(data) {
  return {
    id: data.id ?? null,
    role: data.role === "user" ? "user" : "assistant",
    status: data.status || "complete",
    content: data.content || "",
    model: data.model || "",
    rating: data.rating ?? null,
    citations: Array.isArray(data.citations) ? data.citations : [],
    validation: data.validation && typeof data.validation === "object" ? data.validation : null,
    // All versions of this answer (regenerated ones), oldest first; `position` is its place in the conversation.
    versionIds: Array.isArray(data.version_ids) ? data.version_ids : data.id != null ? [data.id] : [],
    position: data.position ?? data.id ?? null,
    groundingWarning: typeof data.grounding_warning === "string" ? data.grounding_warning : "",
    validating: null, // {stage, attempt} while the server checks the answer
    seq: -1,
    renderQueued: false,
    finishReason: "",
    lastFrameAt: Date.now(),
    el: null,
  };
}

function addMessage(data, { prepend = null } = {}) {
  const rec = makeRecord(data);
  buildMessage(rec);
  if (rec.id != null) state.messages.set(rec.id, rec);
  if (prepend) els.messageList.insertBefore(rec.el, prepend);
  else els.messageList.append(rec.el);
  els.empty.hidden = true;
  renderBody(rec);
  renderExtras(rec);
  applyStatus(rec);
  if (rec.role === "assistant" && !rec.meta.textContent && rec.model) setText(rec.meta, rec.model);
  if (rec.status === "failed") showMessageError(rec, "This answer failed.");
  return rec;
}

/** "‹ 2 / 3 ›" under an answer that has been regenerated. */
function renderVersions(rec) {
  if (!rec.versionNav) return;
  const count = rec.versionIds.length;
  const index = rec.versionIds.indexOf(rec.id);
  rec.versionNav.hidden = count < 2 || index < 0;
  if (rec.versionNav.hidden) return;
  setText(rec.versionLabel, `${index + 1} / ${count}`);
  rec.versionLabel.setAttribute("aria-label", `Version ${index + 1} of ${count}`);
  const busy = isBusy();
  rec.versionPrev.disabled = busy || index === 0;
  rec.versionNext.disabled = busy || index === count - 1;
}

/** Put another version of an answer in the place of `rec` (same spot, same conversation order). */
function replaceRecord(rec, data) {
  const fresh = addMessage(data, { prepend: rec.el });
  rec.el.remove();
  if (rec.id != null && state.messages.get(rec.id) === rec) state.messages.delete(rec.id);
  state.streaming.delete(rec);
  return fresh;
}

function setRecordId(rec, id) {
  rec.id = id;
  rec.el.dataset.messageId = String(id);
  state.messages.set(id, rec);
}

function applyStatus(rec) {
  rec.el.dataset.status = rec.status;
  if (rec.role !== "assistant") return;
  const badge = rec.status === "partial" && rec.finishReason === "cancelled" ? "Stopped" : STATUS_BADGES[rec.status];
  rec.badge.hidden = !badge;
  setText(rec.badge, badge || "");
  if (rec.status === "streaming") state.streaming.add(rec);
  else state.streaming.delete(rec);
  updateUi();
}

function setStatus(rec, status) {
  rec.status = status;
  applyStatus(rec);
}

function showMessageError(rec, message) {
  if (!rec.errorBox) return;
  setText(rec.errorText, message);
  rec.errorBox.hidden = false;
}

function formatMeta(frame, rec) {
  const parts = [];
  const model = frame.model || rec.model;
  if (model) parts.push(model);
  const t = frame.timings || {};
  if (typeof t.ttft_ms === "number") parts.push(`first token ${Math.round(t.ttft_ms)} ms`);
  if (typeof t.tokens_per_second === "number") {
    parts.push(`${t.tokens_per_second >= 10 ? Math.round(t.tokens_per_second) : t.tokens_per_second.toFixed(1)} tok/s`);
  }
  if (frame.finish_reason === "length") parts.push("cut off at the token limit");
  return parts.join(" · ");
}

/* ---------- busy state ---------- */

function isBusy() {
  return Boolean(state.pendingSend) || state.streaming.size > 0;
}

function updateUi() {
  const busy = isBusy();
  const streaming = state.streaming.size > 0;
  els.stop.hidden = !streaming;
  if (!streaming) {
    els.stop.disabled = false;
    setText(els.stop.querySelector(".btn-label"), "Stop");
  }
  const writing = [...state.streaming].some((rec) => rec.seq >= 0 || rec.content);
  const checking = [...state.streaming].find((rec) => rec.validating)?.validating;
  let typing = writing ? "The model is writing…" : "Waiting for the first token…";
  if (checking) {
    typing = checking.stage === "recovering"
      ? `The answer looked unreliable: trying again (attempt ${checking.attempt || 2})…`
      : "Checking the answer…";
  }
  els.typing.hidden = !busy;
  setText(els.typing.querySelector(".typing-text"), typing);
  els.scroller.setAttribute("aria-busy", String(busy));
  els.send.disabled = busy || !els.input.value.trim();
  for (const button of els.messageList.querySelectorAll(".action-regenerate, .action-retry")) button.disabled = busy;
  for (const rec of state.messages.values()) if (rec.versionNav) renderVersions(rec);
}

/* ---------- streaming frames ---------- */

function recordFor(frame) {
  return frame && frame.message_id != null ? state.messages.get(frame.message_id) : null;
}

function onStreaming(frame, rec = recordFor(frame)) {
  if (!rec || rec.status !== "streaming") return;
  rec.lastFrameAt = Date.now();
  const seq = Number(frame.seq);
  if (!Number.isInteger(seq) || seq <= rec.seq) return; // already have it
  if (seq > rec.seq + 1) {
    // A gap: ask for everything after the last frame we have.
    if (rec.resumeFrom !== rec.seq) resume(rec, rec.seq);
    return;
  }
  const firstToken = rec.seq < 0 && !rec.content;
  rec.content = seq === 0 ? String(frame.delta || "") : rec.content + String(frame.delta || "");
  rec.seq = seq;
  if (firstToken) updateUi();
  scheduleRender(rec);
}

function onDone(frame, rec = recordFor(frame)) {
  if (!rec) return;
  if (typeof frame.content === "string") rec.content = frame.content;
  if (frame.model) rec.model = frame.model;
  if (Array.isArray(frame.citations)) rec.citations = frame.citations;
  if (frame.validation && typeof frame.validation === "object") rec.validation = frame.validation;
  if (typeof frame.grounding_warning === "string") rec.groundingWarning = frame.grounding_warning;
  rec.finishReason = frame.finish_reason || "";
  rec.resumeFrom = undefined;
  setValidating(rec, null);
  setStatus(rec, frame.finish_reason === "cancelled" ? "partial" : "complete");
  if (rec.errorBox) rec.errorBox.hidden = true;
  setText(rec.meta, formatMeta(frame, rec));
  renderExtras(rec);
  renderNow(rec);
  afterAnswer();
}

function onChatError(frame, rec = recordFor(frame)) {
  if (!rec) return;
  if (typeof frame.partial_content === "string") rec.content = frame.partial_content;
  rec.resumeFrom = undefined;
  rec.finishReason = "error";
  setValidating(rec, null);
  setStatus(rec, rec.content ? "partial" : "failed");
  showMessageError(rec, frame.message || "The answer failed.");
  if (rec.model) setText(rec.meta, rec.model);
  renderNow(rec);
  if (frame.code === "backend_unavailable") checkHealth();
  afterAnswer();
}

/** The server is checking the finished text (or writing it again): say so, keep Stop usable. */
function onValidating(frame, rec = recordFor(frame)) {
  if (!rec || rec.status !== "streaming") return;
  rec.lastFrameAt = Date.now();
  const attempt = Number(frame.attempt);
  setValidating(rec, { stage: frame.stage === "recovering" ? "recovering" : "checking", attempt: Number.isInteger(attempt) ? attempt : null });
}

function setValidating(rec, value) {
  rec.validating = value;
  if (!rec.el) return;
  if (value) rec.el.dataset.checking = value.stage;
  else delete rec.el.dataset.checking;
  updateUi();
}

function afterAnswer() {
  if (!els.search.value.trim()) refreshConversations();
}

/** A frame that belongs to an answer, from any request or none. */
function onAnswerFrame(frame, rec) {
  switch (frame.type) {
    case "chat:streaming":
      onStreaming(frame, rec || recordFor(frame));
      return true;
    case "chat:validating":
      onValidating(frame, rec || recordFor(frame));
      return true;
    case "chat:done":
      onDone(frame, rec || recordFor(frame));
      return true;
    case "chat:error":
      onChatError(frame, rec || recordFor(frame));
      return true;
    default:
      return false;
  }
}

function resume(rec, afterSeq) {
  rec.lastFrameAt = Date.now();
  rec.seq = afterSeq;
  rec.resumeFrom = afterSeq;
  if (rec.status !== "streaming") setStatus(rec, "streaming");
  ws.request(
    { type: "chat:resume", message_id: rec.id, after_seq: afterSeq },
    {
      isTerminal: answerIsTerminal,
      onFrame: (frame) => {
        if (onAnswerFrame(frame, recordFor(frame) || rec)) return;
        if (frame.type === "error" && rec.status === "streaming") {
          if (frame.code === "rate_limited") {
            setTimeout(() => rec.status === "streaming" && resume(rec, rec.seq), (frame.retry_after_s || 1) * 1000);
            return;
          }
          onChatError({ message: frame.message || "Could not follow this answer.", partial_content: rec.content }, rec);
        }
        // ws:disconnected: resumed again after the reconnect.
      },
    },
  );
}

/** A stream that went quiet: if the stored message has ended, show it as stored. */
async function checkStalled() {
  if (!ws || !ws.isOpen || !state.conversationId) return;
  const now = Date.now();
  const stalled = [...state.streaming].filter((r) => r.id != null && !r.checking && now - r.lastFrameAt > STALL_AFTER_MS);
  if (!stalled.length) return;
  for (const rec of stalled) rec.checking = true;
  const reply = await ws.request({ type: "chat:history", conversation_id: state.conversationId, limit: 20 }).done;
  for (const rec of stalled) {
    rec.checking = false;
    rec.lastFrameAt = Date.now();
  }
  if (!reply || reply.type !== "chat:history" || !Array.isArray(reply.messages)) return;
  for (const m of reply.messages) {
    const rec = state.messages.get(m.id);
    if (!rec || !stalled.includes(rec) || rec.status !== "streaming" || m.status === "streaming") continue;
    if (m.status === "complete") {
      onDone({ content: m.content, model: m.model, finish_reason: "stop", citations: m.citations, validation: m.validation }, rec);
    } else {
      const message = m.status === "partial" ? "This answer stopped before the end." : "This answer failed.";
      onChatError({ message, partial_content: m.content }, rec);
    }
  }
}

/* ---------- sending ---------- */

function sendMessage() {
  const content = els.input.value;
  if (!ws || !content.trim() || isBusy()) return;
  showComposerError("");
  const userRec = addMessage({ role: "user", content, status: "complete" });
  els.input.value = "";
  const pending = { content, userRec, started: false };
  state.pendingSend = pending;
  updateUi();
  scrollToBottom();

  const frame = { type: "chat:send", content };
  if (state.conversationId) frame.conversation_id = state.conversationId;
  if (els.modelSelect.value) frame.model = els.modelSelect.value;
  if (!state.conversationId && state.systemPrompt.trim()) frame.system = state.systemPrompt;
  // What is ticked is what grounds this answer: for a new conversation this attaches the bases,
  // for an existing one it applies a change not yet saved.
  const kbIds = [...state.kbIds];
  if (!sameIds(kbIds, state.kbSaved)) frame.knowledge_base_ids = kbIds;
  if (state.validate) frame.validate = true;

  ws.request(frame, {
    isTerminal: answerIsTerminal,
    onFrame: (reply) => {
      if (reply.type === "chat:started") {
        if (frame.knowledge_base_ids) {
          state.kbSaved = kbIds;
          if (els.settingsStatus.textContent.startsWith("Not saved")) setText(els.settingsStatus, "");
        }
        onStarted(reply, pending);
        return;
      }
      if (onAnswerFrame(reply)) return;
      if (reply.type === "error") {
        if (!pending.started) {
          let message = reply.message || "The message could not be sent.";
          if (reply.code === "rate_limited" && reply.retry_after_s) {
            message = `Too many messages: try again in ${Math.ceil(reply.retry_after_s)} s.`;
          }
          sendFailed(pending, message);
        } else {
          showComposerError(reply.message || "Something went wrong.", { sticky: false });
        }
        return;
      }
      if (reply.type === "ws:disconnected" && !pending.started) {
        sendFailed(pending, "The connection dropped before the server confirmed your message. Check the conversation and send it again if it is missing.");
        if (state.conversationId) state.reloadOnReconnect = true;
      }
    },
  });
}

function sendFailed(pending, message) {
  if (state.pendingSend === pending) state.pendingSend = null;
  pending.userRec.el.remove();
  if (pending.userRec.id != null) state.messages.delete(pending.userRec.id);
  if (!els.input.value.trim()) els.input.value = pending.content;
  if (!els.messageList.children.length && !state.conversationId) els.empty.hidden = false;
  showComposerError(message);
  updateUi();
}

function onStarted(frame, pending) {
  pending.started = true;
  if (state.pendingSend === pending) state.pendingSend = null;
  if (!state.conversationId && frame.conversation_id) {
    setConversation(frame.conversation_id, titleFrom(pending.content));
  }
  if (frame.user_message_id != null) setRecordId(pending.userRec, frame.user_message_id);
  const rec = addMessage({ id: frame.assistant_message_id, role: "assistant", status: "streaming", model: frame.model || "" });
  rec.seq = -1;
  updateUi();
  followBottom();
}

function stopAnswer() {
  if (!state.streaming.size) return;
  const stopping = [...state.streaming];
  for (const rec of stopping) ws.send({ type: "chat:cancel", message_id: rec.id });
  els.stop.disabled = true;
  setText(els.stop.querySelector(".btn-label"), "Stopping…");
  // The server answers a cancel with chat:done; if it never does, do not stay stuck.
  setTimeout(() => {
    for (const rec of stopping) {
      if (rec.status !== "streaming") continue;
      onDone({ finish_reason: "cancelled" }, rec);
      showMessageError(rec, "The server did not confirm the stop; reload to see what was saved.");
    }
  }, STOP_GRACE_MS);
}

/* ---------- history ---------- */

async function loadHistory({ before = null } = {}) {
  if (!state.conversationId || state.historyLoading) return;
  state.historyLoading = true;
  els.loadOlder.disabled = true;
  if (!before) {
    els.historyStatus.hidden = false;
    setText(els.historyStatus, "Loading the conversation…");
  }
  const frame = { type: "chat:history", conversation_id: state.conversationId, limit: 50 };
  if (before) frame.before = before;
  const reply = await ws.request(frame).done;
  const previousHeight = els.scroller.scrollHeight;
  const previousTop = els.scroller.scrollTop;
  state.historyLoading = false;
  els.loadOlder.disabled = false;
  if (!reply || reply.type === "ws:disconnected") {
    // Tried again after the reconnect (see onWelcome).
    return;
  }
  if (reply.type !== "chat:history") {
    els.historyStatus.hidden = false;
    setText(els.historyStatus, `Could not load the conversation: ${reply.message || "unknown error"}.`);
    return;
  }
  els.historyStatus.hidden = true;
  const messages = Array.isArray(reply.messages) ? reply.messages.filter((m) => m.role !== "system") : [];
  state.hasMore = Boolean(reply.has_more);
  els.loadOlder.hidden = !state.hasMore;
  // Paging goes by position: a regenerated answer sits where its first version did.
  if (messages.length) {
    state.oldestId = Math.min(state.oldestId ?? Infinity, ...messages.map((m) => m.position ?? m.id));
  }

  if (before) {
    // Keep what the reader was looking at in place while older messages go in above it.
    const s = els.scroller;
    const anchor = els.messageList.firstElementChild;
    for (const m of messages) if (!state.messages.has(m.id)) addMessage(m, { prepend: anchor });
    s.scrollTop = previousTop + (s.scrollHeight - previousHeight);
    return;
  }

  state.historyLoaded = true;
  for (const m of messages) if (!state.messages.has(m.id)) addMessage(m);
  if (!messages.length && !els.messageList.children.length) els.empty.hidden = false;
  scrollToBottom();
  for (const rec of [...state.messages.values()]) {
    if (rec.role === "assistant" && rec.status === "streaming" && rec.resumeFrom === undefined) resume(rec, -1);
  }
}

function reloadHistory() {
  state.reloadOnReconnect = false;
  state.messages.clear();
  state.streaming.clear();
  els.messageList.replaceChildren();
  state.historyLoaded = false;
  state.oldestId = null;
  loadHistory();
}

/* ---------- conversation (settings, identity) ---------- */

function setConversation(id, title) {
  state.conversationId = id;
  app.dataset.conversationId = String(id);
  const path = urlFor(urls.conversationPage, id);
  if (location.pathname !== path) history.replaceState(null, "", path);
  setTitle(title);
  updateSettingsSummary();
  setText(els.settingsStatus, "");
  state.conversationModel = els.modelSelect.value;
  upsertConversationItem({ id, title, updated_at: new Date().toISOString(), message_count: null }, { top: true });
  markCurrent();
}

function setTitle(title) {
  const text = title || "Untitled conversation";
  setText(els.title, text);
  document.title = `${text} · Chat · AI Orchestrator`;
}

async function saveSettings(event) {
  event.preventDefault();
  const prompt = els.settingsPrompt.value;
  const model = els.modelSelect.value;
  if (!state.conversationId) {
    state.systemPrompt = prompt;
    updateSettingsSummary();
    setText(els.settingsStatus, "Saved: used when you send the first message.");
    return;
  }
  setText(els.settingsStatus, "Saving…");
  const kbIds = [...state.kbIds];
  try {
    const saved = await api("PATCH", urlFor(urls.conversation, state.conversationId), {
      system_prompt: prompt,
      model,
      knowledge_base_ids: kbIds,
    });
    state.systemPrompt = saved.system_prompt ?? prompt;
    state.conversationModel = saved.model ?? model;
    state.kbSaved = Array.isArray(saved.knowledge_base_ids) ? saved.knowledge_base_ids : kbIds;
    if (sameIds(state.kbIds, kbIds)) setKbIds(state.kbSaved);
    updateSettingsSummary();
    setText(els.settingsStatus, "Saved.");
  } catch (error) {
    setText(els.settingsStatus, `Not saved: ${error.message}`);
  }
}

function updateSettingsSummary() {
  const parts = [];
  if (state.systemPrompt.trim()) parts.push("custom instructions");
  const n = state.kbIds.length;
  if (n) parts.push(`${n} knowledge base${n === 1 ? "" : "s"}`);
  if (state.validate) parts.push("answers checked");
  setText(els.settingsSummary, parts.join(" · "));
}

/* ---------- knowledge bases and the check switch (settings) ---------- */

function setKbIds(ids) {
  state.kbIds = [...ids];
  for (const box of els.settingsKbList.querySelectorAll("input[type=checkbox]")) {
    box.checked = state.kbIds.includes(Number(box.value));
  }
  updateSettingsSummary();
}

async function loadBases() {
  const list = els.settingsKbList;
  list.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await api("GET", urls.bases);
  } catch (error) {
    list.setAttribute("aria-busy", "false");
    if (state.bases) return; // keep the list we have
    const note = el("p", "chat-kb-empty muted small", `Could not list your knowledge bases: ${error.message} `);
    const retry = el("button", "btn btn-ghost btn-sm", "Try again");
    retry.type = "button";
    retry.addEventListener("click", loadBases);
    note.append(retry);
    list.replaceChildren(note);
    return;
  }
  list.setAttribute("aria-busy", "false");
  state.bases = (Array.isArray(data.bases) ? data.bases : []).filter((kb) => kb && Number.isInteger(kb.id));
  renderBases();
}

function renderBases() {
  const list = els.settingsKbList;
  if (!state.bases.length) {
    const note = el("p", "chat-kb-empty muted small", "No knowledge bases yet — ");
    const create = el("a", null, "create one");
    create.href = urls.knowledge;
    create.title = "Create a knowledge base";
    note.append(create);
    list.replaceChildren(note);
    return;
  }
  const items = state.bases.map((kb) => {
    const label = el("label", "chat-kb-item");
    const box = el("input");
    box.type = "checkbox";
    box.name = "knowledge_base_ids";
    box.value = String(kb.id);
    box.checked = state.kbIds.includes(kb.id);
    const name = el("span", "chat-kb-name", kb.name || `Knowledge base ${kb.id}`);
    if (kb.description) label.title = kb.description;
    const sources = Number(kb.source_count) || 0;
    const chunks = Number(kb.chunk_count) || 0;
    const meta = el("span", "chat-kb-meta", `${sources} source${sources === 1 ? "" : "s"}`);
    if (sources && !chunks) meta.textContent += ", nothing indexed yet";
    label.append(box, name, meta);
    return label;
  });
  const manage = el("a", "chat-kb-manage small", "Manage knowledge bases");
  manage.href = urls.knowledge;
  list.replaceChildren(...items, manage);
}

function onKbChange(event) {
  if (!event.target.matches("input[type=checkbox]")) return;
  const ticked = [...els.settingsKbList.querySelectorAll("input[type=checkbox]:checked")].map((box) => Number(box.value));
  state.kbIds = ticked;
  updateSettingsSummary();
  if (!state.conversationId) {
    setText(els.settingsStatus, "The first message will use these knowledge bases.");
  } else if (sameIds(ticked, state.kbSaved)) {
    setText(els.settingsStatus, "");
  } else {
    setText(els.settingsStatus, "Not saved yet: Save now, or they apply with your next message.");
  }
}

function onValidateChange() {
  state.validate = els.settingsValidate.checked;
  try {
    localStorage.setItem(VALIDATE_KEY, state.validate ? "1" : "0");
  } catch {
    /* storage disabled: on for this page only */
  }
  updateSettingsSummary();
}

async function onModelChange() {
  const model = els.modelSelect.value;
  setText(els.settingsModelName, model || "the default model");
  if (!state.conversationId || model === state.conversationModel) return;
  try {
    const saved = await api("PATCH", urlFor(urls.conversation, state.conversationId), {
      system_prompt: state.systemPrompt,
      model,
    });
    state.conversationModel = saved.model ?? model;
  } catch (error) {
    showComposerError(`The model was not saved: ${error.message}`, { sticky: false });
  }
}

async function loadModels() {
  let data;
  try {
    data = await api("GET", urls.models);
  } catch (error) {
    els.modelSelect.title = `Could not list the models: ${error.message}`;
    return;
  }
  const models = Array.isArray(data.data) ? data.data : [];
  const wanted = els.modelSelect.value || state.conversationModel;
  const options = [new Option("Default model", "")];
  const seen = new Set();
  for (const m of models) {
    if (!m || !m.id || seen.has(m.id)) continue;
    seen.add(m.id);
    const option = new Option(m.loaded === false ? `${m.id} (not loaded)` : m.id, m.id);
    const details = [m.owned_by && `on ${m.owned_by}`, m.context_length && `${m.context_length} tokens of context`];
    option.title = details.filter(Boolean).join(", ");
    options.push(option);
  }
  if (wanted && !seen.has(wanted)) options.push(new Option(`${wanted} (unavailable)`, wanted));
  els.modelSelect.replaceChildren(...options);
  els.modelSelect.value = wanted || "";
}

/* ---------- sidebar ---------- */

function conversationItem(c) {
  const li = el("li", "conversation-item");
  li.dataset.conversationId = String(c.id);
  const link = el("a", "conversation-link");
  link.href = urlFor(urls.conversationPage, c.id);
  const title = c.title || "Untitled conversation";
  link.append(el("span", "conversation-title", title));
  const meta = el("span", "conversation-meta");
  const time = el("time", null, formatTime(c.updated_at));
  time.dateTime = c.updated_at || "";
  time.dataset.local = "";
  meta.append(time);
  if (typeof c.message_count === "number") {
    meta.append(` · ${c.message_count} message${c.message_count === 1 ? "" : "s"}`);
  }
  link.append(meta);
  const actions = el("div", "conversation-actions");
  const rename = el("button", "conversation-action conversation-rename");
  rename.type = "button";
  rename.title = "Rename";
  rename.setAttribute("aria-label", `Rename “${title}”`);
  rename.append(pathIcon("pencil"));
  const del = el("button", "conversation-action conversation-delete");
  del.type = "button";
  del.title = "Delete";
  del.setAttribute("aria-label", `Delete “${title}”`);
  del.append(pathIcon("trash"));
  actions.append(rename, del);
  li.append(link, actions);
  return li;
}

function markCurrent() {
  for (const link of els.list.querySelectorAll(".conversation-link")) {
    const li = link.closest(".conversation-item");
    if (state.conversationId && li && li.dataset.conversationId === String(state.conversationId)) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function upsertConversationItem(c, { top = false } = {}) {
  els.list.querySelector(".conversation-empty")?.remove();
  const existing = els.list.querySelector(`.conversation-item[data-conversation-id="${c.id}"]`);
  const item = conversationItem(c);
  if (existing) existing.replaceWith(item);
  if (top || !existing) els.list.prepend(item);
  markCurrent();
}

function renderConversations(conversations, query) {
  const focusedId = document.activeElement?.closest?.(".conversation-item")?.dataset.conversationId;
  const items = conversations.map(conversationItem);
  if (!items.length) {
    items.push(el("li", "conversation-empty", query ? `No conversation matches “${query}”.` : "No conversations yet. Ask something to start one."));
  }
  els.list.replaceChildren(...items);
  markCurrent();
  if (focusedId) els.list.querySelector(`.conversation-item[data-conversation-id="${focusedId}"] .conversation-link`)?.focus();
}

let searchSerial = 0;
async function refreshConversations() {
  const query = els.search.value.trim();
  const serial = ++searchSerial;
  let data;
  try {
    data = await api("GET", query ? `${urls.conversations}?q=${encodeURIComponent(query)}` : urls.conversations);
  } catch (error) {
    if (serial === searchSerial) setText(els.searchStatus, `Search failed: ${error.message}`);
    return;
  }
  if (serial !== searchSerial) return; // a newer search answered first
  const conversations = Array.isArray(data.conversations) ? data.conversations : [];
  renderConversations(conversations, query);
  const current = conversations.find((c) => c.id === state.conversationId);
  if (current && current.title) setTitle(current.title);
  if (query) {
    setText(els.searchStatus, `${conversations.length} conversation${conversations.length === 1 ? "" : "s"} found`);
  } else {
    setText(els.searchStatus, "");
  }
}

let searchTimer = null;
function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(refreshConversations, 250);
}

function itemTitle(li) {
  return li.querySelector(".conversation-title")?.textContent || "Untitled conversation";
}

async function renameConversation(li) {
  const id = Number(li.dataset.conversationId);
  const current = itemTitle(li);
  const title = await ask({
    title: "Rename conversation",
    message: "Give this conversation a name you will recognise.",
    input: { label: "Title", value: current },
    confirmLabel: "Rename",
  });
  if (title == null) return;
  try {
    const saved = await api("PATCH", urlFor(urls.conversation, id), { title });
    const newTitle = saved.title || title;
    upsertConversationItem({ ...saved, id, title: newTitle, updated_at: saved.updated_at });
    if (id === state.conversationId) setTitle(newTitle);
    els.list.querySelector(`.conversation-item[data-conversation-id="${id}"] .conversation-rename`)?.focus();
  } catch (error) {
    showComposerError(`Could not rename: ${error.message}`, { sticky: false });
  }
}

async function deleteConversation(li) {
  const id = Number(li.dataset.conversationId);
  const ok = await ask({
    title: "Delete conversation?",
    message: `“${itemTitle(li)}” and all its messages will be deleted. This cannot be undone.`,
    confirmLabel: "Delete",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", urlFor(urls.conversation, id));
  } catch (error) {
    showComposerError(`Could not delete: ${error.message}`, { sticky: false });
    return;
  }
  if (id === state.conversationId) {
    location.assign(urls.newChat);
    return;
  }
  const next = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  if (!els.list.children.length) {
    els.list.append(el("li", "conversation-empty", "No conversations yet. Ask something to start one."));
  }
  (next?.querySelector(".conversation-link") || els.search).focus();
}

function setSidebar(open) {
  app.classList.toggle("sidebar-open", open);
  els.sidebarToggle.setAttribute("aria-expanded", String(open));
  els.backdrop.hidden = !open;
  if (open) (els.sidebar.querySelector(".conversation-link[aria-current]") || $("new-chat")).focus();
}

/* ---------- in-page dialog (never window.prompt/confirm) ---------- */

function ask({ title, message = "", input = null, confirmLabel = "OK", danger = false }) {
  const dialog = els.dialog;
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(null);
  const field = $("chat-dialog-field");
  const inputEl = $("chat-dialog-input");
  const confirm = $("chat-dialog-confirm");
  setText($("chat-dialog-title"), title);
  setText($("chat-dialog-message"), message);
  $("chat-dialog-message").hidden = !message;
  field.hidden = !input;
  inputEl.required = Boolean(input);
  inputEl.removeAttribute("aria-invalid");
  if (input) {
    setText($("chat-dialog-label"), input.label || "Value");
    inputEl.value = input.value || "";
  }
  confirm.textContent = confirmLabel;
  confirm.className = `btn ${danger ? "btn-danger" : "btn-primary"}`;
  dialog.returnValue = "";
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const onClose = () => {
      dialog.removeEventListener("close", onClose);
      const confirmed = dialog.returnValue === "confirm";
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      if (!confirmed) resolve(null);
      else resolve(input ? inputEl.value.trim() : true);
    };
    dialog.addEventListener("close", onClose);
    dialog.showModal();
    if (input) {
      inputEl.focus();
      inputEl.select();
    } else {
      (danger ? $("chat-dialog-cancel") : confirm).focus();
    }
  });
}

function initDialog() {
  const dialog = els.dialog;
  if (!dialog) return;
  $("chat-dialog-cancel").addEventListener("click", () => dialog.close("cancel"));
  $("chat-dialog-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const inputEl = $("chat-dialog-input");
    if (!$("chat-dialog-field").hidden && !inputEl.value.trim()) {
      inputEl.setAttribute("aria-invalid", "true");
      inputEl.focus();
      return;
    }
    dialog.close("confirm");
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close("cancel"); // a click on the backdrop
  });
}

/* ---------- message actions ---------- */

async function rate(rec, rating, note = "") {
  const previous = rec.rating;
  rec.rating = rating;
  rec.rateUp.setAttribute("aria-pressed", String(rating === 1));
  rec.rateDown.setAttribute("aria-pressed", String(rating === -1));
  try {
    const saved = await api("POST", urlFor(urls.rate, rec.id), { rating, note });
    rec.rating = saved.rating ?? rating;
    return true;
  } catch (error) {
    rec.rating = previous;
    rec.rateUp.setAttribute("aria-pressed", String(previous === 1));
    rec.rateDown.setAttribute("aria-pressed", String(previous === -1));
    showComposerError(`Could not save the rating: ${error.message}`, { sticky: false });
    return false;
  }
}

async function regenerate(rec) {
  if (!ws || isBusy() || rec.id == null) return;
  showComposerError("");
  let data;
  try {
    data = await api("POST", urlFor(urls.regenerate, rec.id), state.validate ? { validate: true } : undefined);
  } catch (error) {
    showComposerError(`Could not regenerate: ${error.message}`);
    return;
  }
  if (data.assistant_message_id == null) return;
  // The new answer takes the old one's place; the old one stays a click away (‹ n / m ›).
  const fresh = state.messages.get(data.assistant_message_id) ||
    replaceRecord(rec, data.message || { id: data.assistant_message_id, role: "assistant", status: "streaming", model: rec.model });
  fresh.el.scrollIntoView({ block: "nearest" });
  resume(fresh, -1);
}

async function showVersion(rec, step) {
  if (isBusy()) return;
  const target = rec.versionIds[rec.versionIds.indexOf(rec.id) + step];
  if (target == null) return;
  showComposerError("");
  let data;
  try {
    data = await api("POST", urlFor(urls.show, target));
  } catch (error) {
    showComposerError(`Could not show that version: ${error.message}`);
    return;
  }
  const fresh = replaceRecord(rec, data);
  const focus = step < 0 ? fresh.versionPrev : fresh.versionNext;
  (focus.disabled ? fresh.versionLabel : focus).focus?.();
  if (fresh.status === "streaming") resume(fresh, -1);
}

function onMessageClick(event) {
  const button = event.target.closest("button");
  if (!button || !els.messageList.contains(button)) return;
  const rec = button.closest(".message")?.chatRecord;
  if (button.classList.contains("source-toggle")) {
    const quote = document.getElementById(button.getAttribute("aria-controls"));
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    if (quote) quote.hidden = !open;
    return;
  }
  if (button.classList.contains("code-copy")) {
    const code = button.closest(".code-block")?.querySelector("pre");
    if (code) copyText(code.textContent).then((ok) => flashButton(button, ok));
    return;
  }
  if (!rec) return;
  if (button.classList.contains("action-copy")) {
    copyText(rec.content).then((ok) => flashButton(button, ok));
  } else if (button.classList.contains("action-regenerate") || button.classList.contains("action-retry")) {
    regenerate(rec);
  } else if (button.classList.contains("action-version-prev")) {
    showVersion(rec, -1);
  } else if (button.classList.contains("action-version-next")) {
    showVersion(rec, 1);
  } else if (button.classList.contains("action-rate-up")) {
    rec.noteForm.hidden = true;
    rate(rec, rec.rating === 1 ? null : 1);
  } else if (button.classList.contains("action-rate-down")) {
    if (rec.rating === -1) {
      rec.noteForm.hidden = true;
      rate(rec, null);
    } else {
      rate(rec, -1).then((ok) => {
        if (!ok) return;
        rec.noteForm.hidden = false;
        rec.noteInput.value = "";
        rec.noteInput.focus();
      });
    }
  } else if (button.classList.contains("rating-note-skip")) {
    rec.noteForm.hidden = true;
    rec.rateDown.focus();
  }
}

function onMessageSubmit(event) {
  const form = event.target.closest(".rating-note");
  if (!form) return;
  event.preventDefault();
  const rec = form.closest(".message")?.chatRecord;
  if (!rec) return;
  const note = rec.noteInput.value.trim();
  rate(rec, -1, note).then((ok) => {
    if (!ok) return;
    form.hidden = true;
    rec.rateDown.focus();
    // Say it arrived: a form that just vanishes reads as lost.
    rec.noteThanks.textContent = note ? "Thanks: your note was saved with the rating." : "Thanks: the rating was saved.";
    rec.noteThanks.hidden = false;
    clearTimeout(rec.noteThanksTimer);
    rec.noteThanksTimer = setTimeout(() => { rec.noteThanks.hidden = true; }, 6000);
  });
}

/* ---------- health banner ---------- */

let healthTimer = null;
async function checkHealth() {
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

/* ---------- connection status ---------- */

const CONNECTION_TEXT = {
  idle: ["unknown", "Connecting…"],
  connecting: ["unknown", "Connecting…"],
  open: ["ok", "Connected"],
  reconnecting: ["warn", "Reconnecting…"],
  closed: ["fail", "Disconnected"],
};

function onConnectionStatus(status, detail = {}) {
  const [dot, text] = CONNECTION_TEXT[status] || CONNECTION_TEXT.connecting;
  els.connection.dataset.state = dot;
  let label = text;
  if (status === "closed" && detail.code === 4401) label = "Signed out: reload the page";
  setText(els.connection.querySelector(".connection-text"), label);
  els.connection.title = status === "reconnecting" && detail.delayMs
    ? `Connection lost; trying again in ${Math.ceil(detail.delayMs / 1000)} s`
    : label;
}

/* ---------- wiring ---------- */

function initComposer() {
  els.input.addEventListener("input", updateUi);
  els.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (!els.send.disabled) els.composer.requestSubmit ? els.composer.requestSubmit() : sendMessage();
    }
  });
  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  els.stop.addEventListener("click", stopAnswer);
}

function initScrolling() {
  els.scroller.addEventListener(
    "scroll",
    () => {
      const near = distanceFromBottom() <= NEAR_BOTTOM_PX;
      state.stick = near;
      els.jump.hidden = near;
    },
    { passive: true },
  );
  els.jump.addEventListener("click", () => {
    scrollToBottom(true);
    els.input.focus();
  });
  els.loadOlder.addEventListener("click", () => {
    if (state.oldestId != null) loadHistory({ before: state.oldestId });
  });
}

function initSidebar() {
  els.search.addEventListener("input", onSearchInput);
  els.search.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && els.search.value) {
      event.stopPropagation();
      els.search.value = "";
      refreshConversations();
    }
  });
  els.list.addEventListener("click", (event) => {
    const button = event.target.closest(".conversation-action");
    if (!button) return;
    const li = button.closest(".conversation-item");
    if (!li) return;
    if (button.classList.contains("conversation-rename")) renameConversation(li);
    else if (button.classList.contains("conversation-delete")) deleteConversation(li);
  });
  els.sidebarToggle.addEventListener("click", () => setSidebar(!app.classList.contains("sidebar-open")));
  els.sidebarClose.addEventListener("click", () => {
    setSidebar(false);
    els.sidebarToggle.focus();
  });
  els.backdrop.addEventListener("click", () => setSidebar(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && app.classList.contains("sidebar-open") && !els.dialog?.open) {
      setSidebar(false);
      els.sidebarToggle.focus();
    }
  });
}

function initSettings() {
  els.settingsForm.addEventListener("submit", saveSettings);
  els.settingsPrompt.addEventListener("input", () => setText(els.settingsStatus, ""));
  els.modelSelect.addEventListener("change", onModelChange);
  els.settingsKbList.addEventListener("change", onKbChange);
  els.settingsValidate.checked = state.validate;
  els.settingsValidate.addEventListener("change", onValidateChange);
  // Bases made in another tab show up when the panel is opened again.
  els.settings.addEventListener("toggle", () => {
    if (els.settings.open) loadBases();
  });
  updateSettingsSummary();
}

async function main() {
  if (!app) return;
  initComposer();
  initScrolling();
  initSidebar();
  initSettings();
  initDialog();
  els.messageList.addEventListener("click", onMessageClick);
  els.messageList.addEventListener("submit", onMessageSubmit);
  scriptReady();
  updateUi();

  loadMarkdown();
  loadModels();
  loadBases();
  checkHealth();

  let wsModule;
  try {
    wsModule = await import(urls.wsModule);
  } catch (error) {
    console.error("chat: could not load the WebSocket client", error);
    onConnectionStatus("closed");
    return;
  }
  ws = wsModule.getSocket();
  ws.onStatus(onConnectionStatus);
  ws.on("welcome", () => {
    if (state.conversationId && !state.historyLoaded && !state.historyLoading) loadHistory();
  });
  ws.onReconnect(() => {
    if (state.reloadOnReconnect && state.conversationId) {
      reloadHistory();
      return;
    }
    for (const rec of [...state.streaming]) if (rec.id != null) resume(rec, rec.seq);
  });
  // Frames no request claims (e.g. the end of an answer stopped with chat:cancel).
  for (const type of ["chat:streaming", "chat:validating", "chat:done", "chat:error"]) {
    ws.on(type, (frame) => onAnswerFrame(frame));
  }
  ws.on("error", (frame) => {
    if (frame.message) showComposerError(frame.message, { sticky: false });
  });
  ws.connect();
  setInterval(checkStalled, 5_000);
}

main();
