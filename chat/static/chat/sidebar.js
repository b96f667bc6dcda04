/*
 * The sidebar: the conversation list and its search, rename and delete (through the in-page dialog,
 * never window.prompt/confirm), and opening and closing it on a phone.
 */
import { api, urlFor } from "kit/api";
import { el, setText } from "kit/dom";
import { formatTime } from "kit/time";
import { $, app, els, pathIcon, showComposerError, state, urls } from "./page.js";
import { setTitle } from "./settings.js";

/* ---------- sidebar ---------- */

export function conversationItem(c) {
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

export function markCurrent() {
  for (const link of els.list.querySelectorAll(".conversation-link")) {
    const li = link.closest(".conversation-item");
    if (state.conversationId && li && li.dataset.conversationId === String(state.conversationId)) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

export function upsertConversationItem(c, { top = false } = {}) {
  els.list.querySelector(".conversation-empty")?.remove();
  const existing = els.list.querySelector(`.conversation-item[data-conversation-id="${c.id}"]`);
  const item = conversationItem(c);
  if (existing) existing.replaceWith(item);
  if (top || !existing) els.list.prepend(item);
  markCurrent();
}

export function renderConversations(conversations, query) {
  const focusedId = document.activeElement?.closest?.(".conversation-item")?.dataset.conversationId;
  const items = conversations.map(conversationItem);
  if (!items.length) {
    items.push(el("li", "conversation-empty", query ? `No conversation matches “${query}”.` : "No conversations yet. Ask something to start one."));
  }
  els.list.replaceChildren(...items);
  markCurrent();
  if (focusedId) els.list.querySelector(`.conversation-item[data-conversation-id="${focusedId}"] .conversation-link`)?.focus();
}

export let searchSerial = 0;
export async function refreshConversations() {
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

export let searchTimer = null;
export function onSearchInput() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(refreshConversations, 250);
}

export function itemTitle(li) {
  return li.querySelector(".conversation-title")?.textContent || "Untitled conversation";
}

export async function renameConversation(li) {
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

export async function deleteConversation(li) {
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

export function setSidebar(open) {
  app.classList.toggle("sidebar-open", open);
  els.sidebarToggle.setAttribute("aria-expanded", String(open));
  els.backdrop.hidden = !open;
  if (open) (els.sidebar.querySelector(".conversation-link[aria-current]") || $("new-chat")).focus();
}

/* ---------- in-page dialog (never window.prompt/confirm) ---------- */

export function ask({ title, message = "", input = null, confirmLabel = "OK", danger = false }) {
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

export function initDialog() {
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

export function initSidebar() {
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
