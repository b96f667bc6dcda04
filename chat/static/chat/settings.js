/*
 * The conversation's identity and settings: its id and title, instructions, model, knowledge bases and
 * the "check answers" switch (remembered in localStorage).
 */
import { api, urlFor } from "kit/api";
import { el, setText } from "kit/dom";
import { app, els, sameIds, showComposerError, state, urls, VALIDATE_KEY } from "./page.js";
import { markCurrent, upsertConversationItem } from "./sidebar.js";

/* ---------- conversation (settings, identity) ---------- */

export function setConversation(id, title) {
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

export function setTitle(title) {
  const text = title || "Untitled conversation";
  setText(els.title, text);
  document.title = `${text} · Chat · AI Orchestrator`;
}

export async function saveSettings(event) {
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

export function updateSettingsSummary() {
  const parts = [];
  if (state.systemPrompt.trim()) parts.push("custom instructions");
  const n = state.kbIds.length;
  if (n) parts.push(`${n} knowledge base${n === 1 ? "" : "s"}`);
  if (state.validate) parts.push("answers checked");
  setText(els.settingsSummary, parts.join(" · "));
}

/* ---------- knowledge bases and the check switch (settings) ---------- */

export function setKbIds(ids) {
  state.kbIds = [...ids];
  for (const box of els.settingsKbList.querySelectorAll("input[type=checkbox]")) {
    box.checked = state.kbIds.includes(Number(box.value));
  }
  updateSettingsSummary();
}

export async function loadBases() {
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

export function renderBases() {
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

export function onKbChange(event) {
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

export function onValidateChange() {
  state.validate = els.settingsValidate.checked;
  try {
    localStorage.setItem(VALIDATE_KEY, state.validate ? "1" : "0");
  } catch {
    /* storage disabled: on for this page only */
  }
  updateSettingsSummary();
}

export async function onModelChange() {
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

export async function loadModels() {
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

export function initSettings() {
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
