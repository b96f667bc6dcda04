/*
 * Answers as they stream over /ws: chat:streaming / chat:validating / chat:done / chat:error frames from
 * any request (or none), resuming after a gap or a reconnect, noticing a stream that went quiet, and the
 * conversation's history (paged by position).
 */
import { setText } from "kit/dom";
import { renderExtras } from "./checking.js";
import {
  addMessage, formatMeta, renderNow, scheduleRender, scrollToBottom, setStatus, showMessageError, updateUi,
} from "./messages.js";
import { answerIsTerminal, checkHealth, els, STALL_AFTER_MS, state, ws } from "./page.js";
import { refreshConversations } from "./sidebar.js";

/* ---------- streaming frames ---------- */

export function recordFor(frame) {
  return frame && frame.message_id != null ? state.messages.get(frame.message_id) : null;
}

export function onStreaming(frame, rec = recordFor(frame)) {
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

export function onDone(frame, rec = recordFor(frame)) {
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

export function onChatError(frame, rec = recordFor(frame)) {
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
export function onValidating(frame, rec = recordFor(frame)) {
  if (!rec || rec.status !== "streaming") return;
  rec.lastFrameAt = Date.now();
  const attempt = Number(frame.attempt);
  setValidating(rec, { stage: frame.stage === "recovering" ? "recovering" : "checking", attempt: Number.isInteger(attempt) ? attempt : null });
}

export function setValidating(rec, value) {
  rec.validating = value;
  if (!rec.el) return;
  if (value) rec.el.dataset.checking = value.stage;
  else delete rec.el.dataset.checking;
  updateUi();
}

export function afterAnswer() {
  if (!els.search.value.trim()) refreshConversations();
}

/** A frame that belongs to an answer, from any request or none. */
export function onAnswerFrame(frame, rec) {
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

export function resume(rec, afterSeq) {
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
export async function checkStalled() {
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

/* ---------- history ---------- */

export async function loadHistory({ before = null } = {}) {
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

export function reloadHistory() {
  state.reloadOnReconnect = false;
  state.messages.clear();
  state.streaming.clear();
  els.messageList.replaceChildren();
  state.historyLoaded = false;
  state.oldestId = null;
  loadHistory();
}
