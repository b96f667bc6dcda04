/*
 * The chat page: conversation list, history, live streaming over /ws (kit/ws), markdown rendered with
 * marked and always sanitised with DOMPurify (kit/markdown), cancel, resume after a reconnect,
 * regenerate, ratings, per-conversation instructions, model and knowledge bases, the sources an answer
 * cites and the result of its hallucination check (both drawn once, on the final render).
 *
 * This module wires the page; the parts are page.js (elements, state, the socket), messages.js,
 * checking.js, stream.js, composer.js, settings.js and sidebar.js.
 */
import { setText } from "kit/dom";
import { scriptReady } from "kit/ready";
import { getSocket } from "kit/ws";
import { initComposer } from "./composer.js";
import { initScrolling, markdownStart, onMessageClick, onMessageSubmit, updateUi } from "./messages.js";
import { app, checkHealth, els, setSocket, showComposerError, state } from "./page.js";
import { initSettings, loadBases, loadModels } from "./settings.js";
import { initDialog, initSidebar } from "./sidebar.js";
import { checkStalled, loadHistory, onAnswerFrame, reloadHistory, resume } from "./stream.js";

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

function main() {
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

  markdownStart();
  loadModels();
  loadBases();
  checkHealth();

  const ws = getSocket();
  setSocket(ws);
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
