/*
 * The composer: sending a message (chat:send with the model, instructions, knowledge bases and the
 * check switch), what happens when it fails before the server confirms it, and Stop.
 */
import { setText } from "kit/dom";
import {
  addMessage, followBottom, isBusy, scrollToBottom, setRecordId, showMessageError, updateUi,
} from "./messages.js";
import { answerIsTerminal, els, sameIds, showComposerError, state, STOP_GRACE_MS, titleFrom, ws } from "./page.js";
import { setConversation } from "./settings.js";
import { onAnswerFrame, onDone } from "./stream.js";

/* ---------- sending ---------- */

export function sendMessage() {
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

export function sendFailed(pending, message) {
  if (state.pendingSend === pending) state.pendingSend = null;
  pending.userRec.el.remove();
  if (pending.userRec.id != null) state.messages.delete(pending.userRec.id);
  if (!els.input.value.trim()) els.input.value = pending.content;
  if (!els.messageList.children.length && !state.conversationId) els.empty.hidden = false;
  showComposerError(message);
  updateUi();
}

export function onStarted(frame, pending) {
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

export function stopAnswer() {
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

export function initComposer() {
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
