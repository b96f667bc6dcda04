// Templates and instructions: a list and an editor (create, edit, delete). A template's variables are
// edited as rows (name, type, required, default, choices, description) and checked here as the server
// checks them, including that every {{ placeholder }} of the prompt is declared.
import { api, urlFor } from "kit/api";
import { confirmDialog } from "kit/confirm";
import { el, jsonData, showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { clearFieldErrors, focusFirstError, setFieldError } from "./common.js";
import { placeholders, specEditor } from "./variables.js";

const root = document.getElementById("library-page");
const form = document.getElementById("item-form");
const $ = (id) => document.getElementById(id);
const isTemplates = root.dataset.kind === "templates";
const noun = isTemplates ? "template" : "instruction";
let items = jsonData("items-data") || [];
let current = null; // the item being edited, or null for a new one
let specs = null;

function excerpt(item) {
  const text = isTemplates ? item.description || item.body : item.content;
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function renderList() {
  const list = $("item-list");
  list.replaceChildren(...items.map((item) => {
    const detail = isTemplates
      ? `${(item.variables || []).length} variable${(item.variables || []).length === 1 ? "" : "s"} · ${excerpt(item)}`
      : excerpt(item);
    const button = el("button", { type: "button", class: "item-button", "data-id": item.id },
      el("span", { class: "item-name", text: item.name }), el("span", { class: "item-detail", text: detail }));
    if (current && current.id === item.id) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => edit(item));
    return el("li", {}, button);
  }));
  $("item-count").textContent = String(items.length);
  $("library-empty").hidden = items.length > 0;
}

function setStatus(text, state = "") {
  $("item-status").textContent = text;
  $("item-status").dataset.state = state;
}

function edit(item, { focus = true } = {}) {
  current = item;
  clearFieldErrors(form);
  showError($("item-error"), "");
  setStatus("");
  $("editor-title").textContent = item ? `Edit ${noun}` : `New ${noun}`;
  $("item-name").value = item ? item.name : "";
  $("item-body").value = item ? (isTemplates ? item.body : item.content) : "";
  $("item-delete").hidden = !item;
  if (isTemplates) {
    $("item-description").value = item ? item.description || "" : "";
    $("spec-rows").replaceChildren();
    specs = specEditor($("spec-rows"), item ? item.variables || [] : [], { prefix: "v", onChange: () => setStatus("Unsaved changes", "dirty") });
    $("item-use").hidden = !item;
    if (item) $("item-use").href = `${root.dataset.newTaskUrl}?template=${item.id}`;
  }
  const url = new URL(location.href);
  if (item) url.searchParams.set("id", item.id);
  else url.searchParams.delete("id");
  history.replaceState(null, "", url);
  renderList();
  if (focus) $("item-name").focus();
}

if (isTemplates) {
  $("spec-add").addEventListener("click", () => {
    specs.add({}).name.focus();
    setStatus("Unsaved changes", "dirty");
  });
  $("detect-variables").addEventListener("click", () => {
    const known = new Set(specs.names());
    const found = placeholders($("item-body").value).filter((name) => !name.includes(".") && !known.has(name));
    for (const name of found) specs.add({ name, type: "str" });
    setStatus(found.length ? `Added ${found.length} variable${found.length === 1 ? "" : "s"}: set their types.` : "Every placeholder is declared.", found.length ? "dirty" : "");
    if (found.length) setFieldError($("item-body"), "");
  });
}

const FIELD_OF = [[/^name\b/, () => $("item-name")], [/^(body|content)\b/, () => $("item-body")],
  [/^description\b/, () => (isTemplates ? $("item-description") : null)]];

function placeServerError(message) {
  if (isTemplates && /^body: \{\{/.test(message)) {
    setFieldError($("item-body"), message);
    return true;
  }
  if (isTemplates && /^variables|variable '/.test(message) && specs.showServerError(message)) return true;
  for (const [pattern, find] of FIELD_OF) {
    const control = pattern.test(message) ? find() : null;
    if (control) {
      setFieldError(control, message);
      return true;
    }
  }
  return false;
}

form.addEventListener("input", (event) => {
  if (event.target.getAttribute("aria-invalid") === "true") setFieldError(event.target, "");
  setStatus("Unsaved changes", "dirty");
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(form);
  showError($("item-error"), "");
  const name = $("item-name").value.trim();
  const body = $("item-body").value;
  const errors = [];
  if (!name) errors.push([$("item-name"), `Give the ${noun} a name.`]);
  if (!body.trim()) errors.push([$("item-body"), isTemplates ? "Write the prompt." : "Write the instruction."]);
  let payload;
  if (isTemplates) {
    const read = specs.read();
    errors.push(...read.errors);
    const declared = new Set(read.specs.map((s) => s.name));
    const missing = placeholders(body).filter((p) => !declared.has(p));
    if (missing.length) {
      errors.push([$("item-body"), `{{ ${missing[0]} }} is not a declared variable: add it below, or use “Find variables in the prompt”.`]);
    }
    payload = { name, body, description: $("item-description").value.trim(), variables: read.specs };
  } else {
    payload = { name, content: body };
  }
  if (errors.length) {
    for (const [control, message] of errors) setFieldError(control, message);
    showError($("item-error"), `Fix the ${errors.length === 1 ? "field" : `${errors.length} fields`} marked in red.`);
    focusFirstError(form);
    return;
  }
  $("item-save").disabled = true;
  try {
    const answer = current
      ? await api("PATCH", urlFor(root.dataset.itemApi, current.id), payload)
      : await api("POST", root.dataset.listApi, payload);
    const item = answer.template || answer.instruction;
    const at = items.findIndex((i) => i.id === item.id);
    if (at >= 0) items[at] = item;
    else items.push(item);
    items.sort((a, b) => a.name.localeCompare(b.name));
    edit(item, { focus: false });
    setStatus("Saved.", "saved");
  } catch (error) {
    const placed = error.status === 400 && placeServerError(error.message);
    showError($("item-error"), placed ? "The server refused it: see the field marked in red." : error.message);
    if (placed) focusFirstError(form);
  } finally {
    $("item-save").disabled = false;
  }
});

$("item-delete").addEventListener("click", async () => {
  if (!current || !(await confirmDialog({ title: `Delete the ${noun} “${current.name}”?`, confirmLabel: "Delete",
    danger: true }))) return;
  try {
    await api("DELETE", urlFor(root.dataset.itemApi, current.id));
    items = items.filter((i) => i.id !== current.id);
    edit(null, { focus: false });
    setStatus("Deleted.", "saved");
  } catch (error) {
    showError($("item-error"), error.message);
  }
});

$("item-new").addEventListener("click", () => edit(null));

const wanted = Number(new URL(location.href).searchParams.get("id"));
edit(items.find((i) => i.id === wanted) || null, { focus: false });
scriptReady(); // the form's Save among them (a native submit would lose the work)
