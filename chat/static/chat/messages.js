/*
 * The messages: each answer's markdown (kit/markdown, plus code blocks with a Copy button), the
 * records behind them, their status and versions, scrolling, the busy state, and the buttons under
 * an answer (copy, regenerate, versions, ratings with an optional note).
 */
import { api, urlFor } from "kit/api";
import { copyText, el, icon, setText } from "kit/dom";
import { enhanceCodeBlocks, loadMarkdown, renderMarkdown } from "kit/markdown";
import { decorateBody, renderExtras } from "./checking.js";
import { els, flashButton, NEAR_BOTTOM_PX, pathIcon, showComposerError, state, urls, ws } from "./page.js";
import { loadHistory, resume } from "./stream.js";

/* ---------- markdown (kit/markdown; the chat adds code blocks with a Copy button) ---------- */

/** marked + DOMPurify once loaded; the answers drawn as plain text meanwhile are drawn again. */
export async function markdownStart() {
  const md = await loadMarkdown();
  if (!md) return; // kit/markdown said why; answers stay plain text
  state.md = md;
  for (const rec of state.messages.values()) if (rec.role === "assistant") renderBody(rec);
}

export function renderBody(rec) {
  rec.renderQueued = false;
  const body = rec.body;
  if (rec.role !== "assistant" || !state.md) {
    body.classList.add("is-plain");
    setText(body, rec.content);
  } else {
    renderMarkdown(body, rec.content, state.md, { styled: false });
    if (!body.classList.contains("is-plain")) enhanceCodeBlocks(body, icon);
  }
  decorateBody(rec);
}


/* ---------- markdown ---------- */

export function scheduleRender(rec) {
  if (rec.renderQueued) return;
  rec.renderQueued = true;
  requestAnimationFrame(() => {
    if (!rec.renderQueued) return;
    renderBody(rec);
    followBottom();
  });
}

export function renderNow(rec) {
  renderBody(rec);
  followBottom();
}

/* ---------- scrolling ---------- */

export function distanceFromBottom() {
  const s = els.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

export function scrollToBottom(smooth = false) {
  const s = els.scroller;
  if (smooth && s.scrollTo) s.scrollTo({ top: s.scrollHeight, behavior: "smooth" });
  else s.scrollTop = s.scrollHeight;
  state.stick = true;
  els.jump.hidden = true;
}

export function followBottom() {
  if (state.stick) scrollToBottom();
  else els.jump.hidden = distanceFromBottom() <= NEAR_BOTTOM_PX;
}

/* ---------- messages ---------- */

export const STATUS_BADGES = { partial: "Stopped early", failed: "Failed" };

export function actionButton(className, label, icon, pressed = null) {
  const button = el("button", `message-action ${className}`);
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.title = label;
  if (pressed !== null) button.setAttribute("aria-pressed", String(pressed));
  button.append(icon);
  return button;
}

export function buildMessage(rec) {
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
    rec.errorBox.append(icon("i-alert"), rec.errorText, retry);
    main.append(rec.errorBox);

    const footer = el("div", "message-footer");
    const actions = el("div", "message-actions");
    actions.setAttribute("role", "group");
    actions.setAttribute("aria-label", "Answer actions");
    rec.rateUp = actionButton("action-rate-up", "Good answer", pathIcon("thumb"), rec.rating === 1);
    rec.rateDown = actionButton("action-rate-down", "Bad answer", pathIcon("thumb", { flip: true }), rec.rating === -1);
    actions.append(
      actionButton("action-copy", "Copy answer", icon("i-copy")),
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

export function makeRecord(data) {
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

export function addMessage(data, { prepend = null } = {}) {
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
export function renderVersions(rec) {
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
export function replaceRecord(rec, data) {
  const fresh = addMessage(data, { prepend: rec.el });
  rec.el.remove();
  if (rec.id != null && state.messages.get(rec.id) === rec) state.messages.delete(rec.id);
  state.streaming.delete(rec);
  return fresh;
}

export function setRecordId(rec, id) {
  rec.id = id;
  rec.el.dataset.messageId = String(id);
  state.messages.set(id, rec);
}

export function applyStatus(rec) {
  rec.el.dataset.status = rec.status;
  if (rec.role !== "assistant") return;
  const badge = rec.status === "partial" && rec.finishReason === "cancelled" ? "Stopped" : STATUS_BADGES[rec.status];
  rec.badge.hidden = !badge;
  setText(rec.badge, badge || "");
  if (rec.status === "streaming") state.streaming.add(rec);
  else state.streaming.delete(rec);
  updateUi();
}

export function setStatus(rec, status) {
  rec.status = status;
  applyStatus(rec);
}

export function showMessageError(rec, message) {
  if (!rec.errorBox) return;
  setText(rec.errorText, message);
  rec.errorBox.hidden = false;
}

export function formatMeta(frame, rec) {
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

export function isBusy() {
  return Boolean(state.pendingSend) || state.streaming.size > 0;
}

export function updateUi() {
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

/* ---------- message actions ---------- */

export async function rate(rec, rating, note = "") {
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

export async function regenerate(rec) {
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

export async function showVersion(rec, step) {
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

export function onMessageClick(event) {
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

export function onMessageSubmit(event) {
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

export function initScrolling() {
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
