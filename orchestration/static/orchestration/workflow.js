// The workflow builder: an ordered list of steps, each with the form of its type (prompt a model,
// cross-validate, scrape a URL, retrieve from knowledge bases, transform with a template, branch on a
// score), moved up and down, deleted; typed inputs; save; then run with an inputs form, and the run
// history. The page checks what the server would (names, required fields, numbers, placeholders that name
// an earlier step or a declared input) and shows the server's own refusals on the step they name.
import { api, newKey, urlFor } from "kit/api";
import { badge, FINISHED, setBadge } from "kit/badges";
import { confirmDialog } from "kit/confirm";
import { el, jsonData, showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { TaskFollower } from "kit/tasks";
import { formatTime } from "kit/time";
import { clearFieldErrors, focusFirstError, formatMs, setFieldError } from "./common.js";
import { placeholders, specEditor, valuesForm } from "./variables.js";

const root = document.getElementById("workflow-page");
const app = document.querySelector(".orch-app");
const form = document.getElementById("wf-form");
const $ = (id) => document.getElementById(id);
const data = jsonData("form-data");
const saved = data.workflow;
const STEP_NAME = /^[a-z][a-z0-9_]{0,39}$/;
const OPS = [">=", ">", "<=", "<", "==", "!="];

let models = []; // [{id, loaded}]
let bases = []; // [{id, name}]
let keyCounter = 0;
let dirty = false;
let lastFocused = null; // the step text field a placeholder is inserted into

const TYPES = {
  prompt: {
    label: "Prompt a model", hint: "one model answers",
    fields: [
      { name: "prompt", kind: "textarea", label: "Prompt", required: true, wide: true },
      { name: "model", kind: "model", label: "Model", empty: "The gateway's default model" },
      { name: "temperature", kind: "number", label: "Temperature", min: 0, max: 2 },
      { name: "max_tokens", kind: "int", label: "Max tokens", min: 1, max: 32768 },
      { name: "system", kind: "textarea", label: "System prompt", wide: true, rows: 2 },
    ],
  },
  cross_validate: {
    label: "Cross-validate", hint: "several models answer and check each other",
    fields: [
      { name: "prompt", kind: "textarea", label: "Prompt", required: true, wide: true },
      { name: "models", kind: "models", label: "Models", required: true, wide: true },
      { name: "strategy", kind: "select", label: "Strategy", choices: () => data.strategies.map((c) => [c.value, c.label.split(" (")[0]]) },
      { name: "tiebreaker", kind: "select", label: "Tiebreaker", choices: () => data.tiebreakers.map((c) => [c.value, c.label]) },
      { name: "judge_model", kind: "model", label: "Judge model", empty: "Default" },
      { name: "knowledge_base_ids", kind: "bases", label: "Knowledge bases", wide: true },
    ],
  },
  scrape: {
    label: "Scrape a URL", hint: "the page's readable text",
    fields: [{ name: "url", kind: "text", label: "URL", required: true, wide: true, placeholder: "https://example.com/ or {{ inputs.url }}" }],
  },
  retrieve: {
    label: "Retrieve from knowledge bases", hint: "the best passages as numbered sources",
    fields: [
      { name: "query", kind: "textarea", label: "Query", required: true, wide: true, rows: 2 },
      { name: "knowledge_base_ids", kind: "bases", label: "Knowledge bases", required: true, wide: true },
      { name: "k", kind: "int", label: "Passages", min: 1, max: 50, placeholder: "5" },
    ],
  },
  transform: {
    label: "Transform with a template", hint: "text from a template, no model call",
    fields: [],
  },
  branch: {
    label: "Branch on a score", hint: "jump when a value passes a threshold",
    fields: [
      { name: "value", kind: "text", label: "Value", required: true, placeholder: "{{ steps.check.confidence }}" },
      { name: "op", kind: "select", label: "Comparison", choices: () => OPS.map((op) => [op, op]) },
      { name: "threshold", kind: "number", label: "Threshold", required: true, min: -1e12, max: 1e12 },
      { name: "then", kind: "target", label: "If true, go to" },
      { name: "else", kind: "target", label: "If false, go to" },
    ],
  },
};

/* ---------- State ---------- */

function withKey(step) {
  keyCounter += 1;
  const out = { ...step, _key: keyCounter };
  if (out.type === "transform") out._mode = "template_id" in out ? "saved" : "inline";
  return out;
}

let steps = (saved ? saved.steps : []).map(withKey);

function markDirty() {
  dirty = true;
  $("wf-save-state").dataset.state = "dirty";
  $("wf-save-state").textContent = saved ? "Unsaved changes" : "Not saved yet";
  if ($("run-dirty")) $("run-dirty").hidden = false;
}

function uniqueName(type) {
  const base = type === "cross_validate" ? "check" : type;
  for (let n = 1; ; n += 1) {
    const name = `${base}_${n}`;
    if (!steps.some((s) => s.name === name)) return name;
  }
}

/* ---------- One step's form ---------- */

function fieldId(step, name) {
  return `s${step._key}-${name.replace(/[^a-z0-9_]/gi, "_")}`;
}

function rememberFocus(event) {
  lastFocused = event.target;
}

function textControl(step, field) {
  const id = fieldId(step, field.name);
  const control = field.kind === "textarea"
    ? el("textarea", { id, rows: field.rows || 3, maxLength: 100000 })
    : el("input", { id, type: "text", autocomplete: "off" });
  if (field.placeholder) control.placeholder = field.placeholder;
  control.value = step[field.name] == null ? "" : String(step[field.name]);
  control.addEventListener("input", () => {
    step[field.name] = control.value;
    markDirty();
  });
  control.addEventListener("focus", rememberFocus);
  return control;
}

function modelSelect(step, field) {
  const control = el("select", { id: fieldId(step, field.name) });
  control.append(el("option", { value: "", text: field.empty || "Default" }));
  const current = step[field.name] || "";
  const known = models.map((m) => m.id);
  if (current && !known.includes(current)) known.unshift(current);
  for (const id of known) control.append(el("option", { value: id, text: id }));
  control.value = current;
  control.addEventListener("change", () => {
    step[field.name] = control.value || undefined;
    markDirty();
  });
  return control;
}

function checkGroup(step, field, items, { allLoaded = false } = {}) {
  const id = fieldId(step, field.name);
  const group = el("div", { class: "check-group", id, role: "group", "aria-label": field.label });
  const chosen = new Set(Array.isArray(step[field.name]) ? step[field.name] : []);
  const list = el("ul", { class: "check-cards" });
  const update = () => {
    const values = [...list.querySelectorAll("input:checked")].map((i) => (field.kind === "bases" ? Number(i.value) : i.value));
    step[field.name] = allBox && allBox.checked ? "all_loaded" : values;
    markDirty();
  };
  let allBox = null;
  if (allLoaded) {
    allBox = el("input", { type: "checkbox", id: `${id}-all` });
    allBox.checked = step[field.name] === "all_loaded";
    allBox.addEventListener("change", () => {
      list.hidden = allBox.checked;
      update();
    });
    group.append(el("label", { class: "check-label", htmlFor: allBox.id }, allBox, " All loaded models"));
    list.hidden = allBox.checked;
  }
  for (const item of items) {
    const boxId = `${id}-${String(item.id).replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const box = el("input", { type: "checkbox", value: item.id, id: boxId });
    box.checked = chosen.has(item.id);
    box.addEventListener("change", update);
    list.append(el("li", {}, el("label", { class: "check-card", htmlFor: boxId }, box,
      el("span", { class: "check-card-name", text: item.name || item.id }))));
  }
  if (!items.length) {
    group.append(el("p", { class: "muted small", text: field.kind === "bases" ? "No knowledge bases yet." : "Loading the models…" }));
  }
  group.append(list);
  return group;
}

function selectControl(step, field, options, fallback) {
  const control = el("select", { id: fieldId(step, field.name) });
  for (const [value, label] of options) control.append(el("option", { value, text: label }));
  control.value = step[field.name] ?? fallback;
  if (control.value !== (step[field.name] ?? fallback)) control.value = fallback;
  control.addEventListener("change", () => {
    step[field.name] = control.value;
    markDirty();
  });
  return control;
}

function targetOptions(step) {
  const at = steps.indexOf(step);
  const later = steps.slice(at + 1).map((s) => s.name).filter(Boolean);
  return [["next", "The next step"], ["end", "The end (stop)"], ...later.map((name) => [name, `Step ${name}`])];
}

/** A renamed step: the branches' "go to" lists follow, without redrawing (and refocusing) anything. */
function refreshTargets() {
  for (const step of steps) {
    if (step.type !== "branch") continue;
    for (const field of ["then", "else"]) {
      const select = $("step-list").querySelector(`li[data-key="${step._key}"] [data-field="${field}"]`);
      if (!select) continue;
      const value = step[field] || "next";
      select.replaceChildren(...targetOptions(step).map(([v, label]) => el("option", { value: v, text: label })));
      select.value = value;
      if (select.value !== value) {
        select.value = "next";
        step[field] = "next";
      }
    }
  }
}

function fieldFor(step, field) {
  let control;
  switch (field.kind) {
    case "textarea":
    case "text":
      control = textControl(step, field);
      break;
    case "number":
    case "int":
      control = el("input", { id: fieldId(step, field.name), type: "text", inputMode: field.kind === "int" ? "numeric" : "decimal",
        autocomplete: "off", placeholder: field.placeholder || "" });
      control.value = step[field.name] == null ? "" : String(step[field.name]);
      control.addEventListener("input", () => {
        step[field.name] = control.value;
        markDirty();
      });
      break;
    case "model":
      control = modelSelect(step, field);
      break;
    case "models":
      control = checkGroup(step, field, models.map((m) => ({ id: m.id, name: m.id })), { allLoaded: true });
      break;
    case "bases":
      control = checkGroup(step, field, bases.map((b) => ({ id: b.id, name: b.name })));
      break;
    case "select":
      control = selectControl(step, field, field.choices(), field.choices()[0][0]);
      break;
    case "target":
      control = selectControl(step, field, targetOptions(step), "next");
      break;
    default:
      control = el("span");
  }
  control.dataset.field = field.name;
  const isGroup = field.kind === "models" || field.kind === "bases";
  const label = isGroup
    ? el("span", { class: "label", text: field.label })
    : el("label", { htmlFor: control.id }, field.label, field.required ? null : el("span", { class: "muted", text: " (optional)" }));
  return el("div", { class: `field${field.wide ? " field-wide" : ""}` }, label, control);
}

function transformFields(step) {
  const parts = [];
  const modeId = fieldId(step, "mode");
  const mode = el("select", { id: modeId });
  mode.append(el("option", { value: "inline", text: "Text written here" }), el("option", { value: "saved", text: "One of my templates" }));
  mode.value = step._mode || "inline";
  mode.dataset.field = "mode";
  mode.addEventListener("change", () => {
    step._mode = mode.value;
    markDirty();
    renderSteps({ focus: `${step._key}:mode` });
  });
  parts.push(el("div", { class: "field" }, el("label", { htmlFor: modeId, text: "Template" }), mode));
  if (step._mode === "saved") {
    const select = el("select", { id: fieldId(step, "template_id") });
    select.append(el("option", { value: "", text: data.templates.length ? "Choose a template…" : "You have no templates" }));
    for (const t of data.templates) select.append(el("option", { value: t.id, text: t.name }));
    select.value = step.template_id ? String(step.template_id) : "";
    select.dataset.field = "template_id";
    select.addEventListener("change", () => {
      step.template_id = select.value ? Number(select.value) : undefined;
      step.variables = {};
      markDirty();
      renderSteps({ focus: `${step._key}:template_id` });
    });
    parts.push(el("div", { class: "field" }, el("label", { htmlFor: select.id, text: "Saved template" }), select));
    const template = data.templates.find((t) => t.id === step.template_id);
    if (template) {
      const rows = el("div", { class: "mapping-rows" });
      for (const spec of template.variables || []) {
        const id = fieldId(step, `var_${spec.name}`);
        const input = el("input", { id, type: "text", autocomplete: "off", placeholder: spec.default != null ? `Default: ${spec.default}` : "{{ steps.NAME.output }}" });
        input.value = (step.variables || {})[spec.name] || "";
        input.dataset.field = `variables.${spec.name}`;
        input.addEventListener("input", () => {
          step.variables = { ...(step.variables || {}), [spec.name]: input.value };
          markDirty();
        });
        input.addEventListener("focus", rememberFocus);
        rows.append(el("div", { class: "field" }, el("label", { htmlFor: id }, el("code", { text: spec.name }), ` ${spec.type}${spec.required && spec.default == null ? ", required" : ""}`), input));
      }
      if (!(template.variables || []).length) rows.append(el("p", { class: "muted small", text: "This template has no variables." }));
      parts.push(rows);
    }
  } else {
    parts.push(fieldFor(step, { name: "template", kind: "textarea", label: "Text", required: true, wide: true,
      placeholder: "e.g. Summary: {{ steps.answer.output }}" }));
  }
  return parts;
}

function stepCard(step, index) {
  const type = TYPES[step.type];
  const nameId = fieldId(step, "name");
  const name = el("input", { id: nameId, type: "text", class: "input-mono", autocomplete: "off", maxLength: 40, value: step.name || "" });
  name.dataset.field = "name";
  const nameHelp = el("p", { class: "field-help" });
  const describe = () => {
    nameHelp.textContent = `Later steps read {{ steps.${step.name || "NAME"}.output }}`;
  };
  describe();
  name.addEventListener("input", () => {
    step.name = name.value.trim();
    describe();
    markDirty();
    renderPlaceholders();
  });
  name.addEventListener("change", refreshTargets);
  const n = index + 1;
  const tools = el("span", { class: "step-tools" },
    el("button", { type: "button", class: "btn btn-ghost btn-sm", "aria-label": `Move step ${n} up`, title: "Move up", disabled: index === 0, text: "↑", "data-action": "up" }),
    el("button", { type: "button", class: "btn btn-ghost btn-sm", "aria-label": `Move step ${n} down`, title: "Move down", disabled: index === steps.length - 1, text: "↓", "data-action": "down" }),
    el("button", { type: "button", class: "btn btn-ghost btn-sm text-danger", "aria-label": `Delete step ${n}`, text: "Delete", "data-action": "delete" }));
  tools.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    const at = steps.indexOf(step);
    if (action === "delete") {
      steps.splice(at, 1);
      markDirty();
      renderSteps({ focus: steps[at] ? `${steps[at]._key}:name` : "add" });
      return;
    }
    const to = action === "up" ? at - 1 : at + 1;
    if (to < 0 || to >= steps.length) return;
    [steps[at], steps[to]] = [steps[to], steps[at]];
    markDirty();
    renderSteps({ focus: `${step._key}:${action}` });
  });
  const fields = step.type === "transform" ? transformFields(step) : type.fields.map((f) => fieldFor(step, f));
  return el("li", { class: "step-card", "data-key": step._key, "data-type": step.type, "aria-label": `Step ${n}: ${type.label}` },
    el("div", { class: "step-head" },
      el("span", { class: "step-index", "aria-hidden": "true", text: String(n) }),
      el("span", { class: "step-head-title" }, el("span", { class: "step-type", text: type.label }), el("span", { class: "step-type-hint", text: type.hint })),
      tools),
    el("div", { class: "step-body" },
      el("div", { class: "field" }, el("label", { htmlFor: nameId, text: "Step name" }), name, nameHelp),
      ...fields));
}

function renderSteps({ focus = null } = {}) {
  const list = $("step-list");
  list.replaceChildren(...steps.map(stepCard));
  $("steps-empty").hidden = steps.length > 0;
  renderPlaceholders();
  if (!focus) return;
  if (focus === "add") {
    $("step-type").focus();
    return;
  }
  const [key, what] = focus.split(":");
  const card = list.querySelector(`li[data-key="${key}"]`);
  if (!card) return;
  const target = what === "up" || what === "down"
    ? card.querySelector(`button[data-action="${what}"]:not(:disabled)`) || card.querySelector('[data-field="name"]')
    : card.querySelector(`[data-field="${what}"]`);
  if (target) target.focus();
}

/* ---------- Placeholders ---------- */

function renderPlaceholders() {
  const list = $("placeholder-list");
  const items = [];
  for (const name of inputs.names()) items.push(`{{ inputs.${name} }}`);
  for (const step of steps) if (step.name) items.push(`{{ steps.${step.name}.output }}`);
  list.replaceChildren(...items.map((text) => el("li", {}, el("button", { type: "button", text, "data-insert": text }))));
  if (!items.length) list.append(el("li", { class: "muted small", text: "Declare an input or name a step to see them here." }));
}

$("placeholder-list").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-insert]");
  if (!button) return;
  const target = lastFocused && document.contains(lastFocused) ? lastFocused : null;
  if (!target) {
    button.title = "Click in a step's text field first";
    return;
  }
  const text = button.dataset.insert;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? target.value.length;
  target.setRangeText(text, start, end, "end");
  target.dispatchEvent(new Event("input", { bubbles: true }));
  target.focus();
});

/* ---------- Inputs ---------- */

const inputs = specEditor($("input-rows"), saved ? saved.inputs : [], {
  addButton: $("inputs-add"), prefix: "in",
  onChange: () => {
    markDirty();
    renderPlaceholders();
  },
});

/* ---------- Checking and saving ---------- */

function numberOf(raw, { integer, min, max }) {
  const text = String(raw ?? "").trim();
  if (!text) return { empty: true };
  const pattern = integer ? /^[-+]?\d{1,12}$/ : /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
  const value = Number(text);
  if (!pattern.test(text) || !Number.isFinite(value)) return { error: integer ? "A whole number." : "A number." };
  if (value < min || value > max) return { error: `From ${min} to ${max}.` };
  return { value };
}

/** The steps as the API takes them, and the errors found: [[step, field, message]]. */
function serialize(inputNames) {
  const out = [];
  const errors = [];
  const names = [];
  steps.forEach((step, index) => {
    const where = (field, message) => errors.push([step, field, message]);
    const name = (step.name || "").trim();
    if (!STEP_NAME.test(name)) where("name", name ? "Lower-case letters, digits and _, starting with a letter (at most 40)." : "Give the step a name.");
    else if (names.includes(name)) where("name", `Another step is named “${name}”.`);
    names.push(name);
    const clean = { name, type: step.type };
    const fields = step.type === "transform"
      ? (step._mode === "saved" ? [] : [{ name: "template", kind: "textarea", required: true }])
      : TYPES[step.type].fields;
    for (const field of fields) {
      const value = step[field.name];
      if (field.kind === "textarea" || field.kind === "text") {
        if (value == null || String(value).trim() === "") {
          if (field.required) where(field.name, `${field.label || "This"} is required.`);
          continue;
        }
        clean[field.name] = String(value);
      } else if (field.kind === "number" || field.kind === "int") {
        const result = numberOf(value, { integer: field.kind === "int", min: field.min, max: field.max });
        if (result.error) where(field.name, result.error);
        else if (result.empty && field.required) where(field.name, `${field.label} is required.`);
        else if (!result.empty) clean[field.name] = result.value;
      } else if (field.kind === "models") {
        if (value === "all_loaded") clean.models = "all_loaded";
        else if (!Array.isArray(value) || !value.length) where(field.name, "Choose the models, or all loaded ones.");
        else clean.models = value;
      } else if (field.kind === "bases") {
        if (Array.isArray(value) && value.length) clean[field.name] = value;
        else if (field.required) where(field.name, "Choose at least one knowledge base.");
      } else if (field.kind === "model") {
        if (value) clean[field.name] = value;
      } else if (field.kind === "select") {
        clean[field.name] = value || field.choices()[0][0];
      } else if (field.kind === "target") {
        if (value && value !== "next") clean[field.name] = value;
      }
    }
    if (step.type === "transform" && step._mode === "saved") {
      if (!step.template_id) where("template_id", "Choose one of your templates.");
      else clean.template_id = step.template_id;
      const variables = {};
      for (const [key, text] of Object.entries(step.variables || {})) if (String(text).trim()) variables[key] = String(text);
      clean.variables = variables;
    }
    // Placeholders may name a declared input or an earlier step, as the server requires.
    const earlier = names.slice(0, index);
    const texts = Object.entries(clean).filter(([key, value]) => typeof value === "string" && !["name", "type", "model", "judge_model", "strategy", "tiebreaker", "op", "then", "else"].includes(key));
    for (const [key, value] of Object.entries(clean.variables || {})) texts.push([`variables.${key}`, value]);
    for (const [field, text] of texts) {
      for (const path of placeholders(text)) {
        const parts = path.split(".");
        if (parts[0] === "inputs" && parts.length === 2) {
          if (!inputNames.includes(parts[1])) where(field, `{{ ${path} }} is not a declared input (declared: ${inputNames.join(", ") || "none"}).`);
        } else if (parts[0] === "steps" && parts.length >= 3) {
          if (!earlier.includes(parts[1])) where(field, `{{ ${path} }} names no earlier step (earlier: ${earlier.join(", ") || "none"}).`);
        } else {
          where(field, `{{ ${path} }}: use {{ inputs.NAME }} or {{ steps.NAME.output }}.`);
        }
      }
    }
    out.push(clean);
  });
  return { steps: out, errors };
}

function stepControl(step, field) {
  const card = $("step-list").querySelector(`li[data-key="${step._key}"]`);
  if (!card) return null;
  return card.querySelector(`[data-field="${CSS.escape(field)}"]`) || card.querySelector('[data-field="name"]');
}

function showStepError(step, field, message) {
  const card = $("step-list").querySelector(`li[data-key="${step._key}"]`);
  if (!card) return;
  card.classList.add("has-error");
  const control = stepControl(step, field);
  if (control) setFieldError(control, message);
  let node = card.querySelector(".step-error");
  if (!node) {
    node = el("p", { class: "form-error step-error", role: "alert" });
    card.querySelector(".step-body").prepend(node);
  }
  node.textContent = message;
}

/** The step a server message is about ("step 'ask': …" or "steps[1]: …"), with the field it names. */
function placeServerError(message) {
  const named = /^step '([a-z0-9_]+)': (?:([a-z_.]+?)(?::| is required| \{\{|$))?/.exec(message);
  const indexed = /^steps\[(\d+)\]/.exec(message);
  let step = null;
  let field = "name";
  if (named) {
    step = steps.find((s) => s.name === named[1]) || null;
    if (named[2]) field = named[2];
    const placeholder = /^step '[a-z0-9_]+': ([a-z_.]+): \{\{/.exec(message);
    if (placeholder) field = placeholder[1];
  } else if (indexed) {
    step = steps[Number(indexed[1])] || null;
  }
  if (step) {
    showStepError(step, field, message);
    return true;
  }
  if (/^name\b/.test(message)) {
    setFieldError($("wf-name"), message);
    return true;
  }
  if (/^inputs\b|variable '/.test(message)) return inputs.showServerError(message);
  return false;
}

function clearErrors() {
  clearFieldErrors(form);
  for (const node of form.querySelectorAll(".step-error")) node.remove();
  for (const card of form.querySelectorAll(".step-card.has-error")) card.classList.remove("has-error");
  showError($("wf-error"), "");
}

let saving = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (saving) return;
  clearErrors();
  const name = $("wf-name").value.trim();
  const declared = inputs.read();
  const { steps: clean, errors } = serialize(declared.specs.map((s) => s.name).filter(Boolean));
  let count = errors.length + declared.errors.length;
  if (!name) {
    setFieldError($("wf-name"), "Give the workflow a name.");
    count += 1;
  }
  for (const [control, message] of declared.errors) setFieldError(control, message);
  for (const [step, field, message] of errors) showStepError(step, field, message);
  if (!steps.length) {
    showError($("wf-error"), "Add at least one step.");
    return;
  }
  if (count) {
    showError($("wf-error"), `Fix the ${count === 1 ? "problem" : `${count} problems`} marked in red.`);
    focusFirstError(form);
    return;
  }
  saving = true;
  $("wf-save").disabled = true;
  const body = { name, description: $("wf-description").value.trim(), inputs: declared.specs, steps: clean };
  try {
    const answer = saved
      ? await api("PATCH", urlFor(root.dataset.workflowApi, saved.id), body)
      : await api("POST", root.dataset.workflowsApi, body);
    if (!saved) {
      location.assign(urlFor(root.dataset.workflowUrl, answer.workflow.id));
      return;
    }
    Object.assign(saved, answer.workflow);
    dirty = false;
    $("wf-title").textContent = saved.name;
    $("wf-save-state").dataset.state = "saved";
    $("wf-save-state").textContent = "Saved.";
    if ($("run-dirty")) $("run-dirty").hidden = true;
    renderRunForm();
  } catch (error) {
    const placed = error.status === 400 && placeServerError(error.message);
    showError($("wf-error"), placed ? "The server refused it: see the step marked in red." : error.message);
    if (placed) focusFirstError(form);
  } finally {
    saving = false;
    $("wf-save").disabled = false;
  }
});

// An edited field loses its error at once, its step's message too; the summary goes with the last of them.
function clearOnEdit(event) {
  const target = event.target;
  if (target.getAttribute("aria-invalid") === "true") setFieldError(target, "");
  const card = target.closest(".step-card");
  if (card && !card.querySelector('[aria-invalid="true"]')) {
    card.classList.remove("has-error");
    const node = card.querySelector(".step-error");
    if (node) node.remove();
  }
  if (!form.querySelector('[aria-invalid="true"], .step-card.has-error')) showError($("wf-error"), "");
}
form.addEventListener("input", clearOnEdit);
form.addEventListener("change", clearOnEdit);

$("step-add-button").addEventListener("click", () => {
  const type = $("step-type").value;
  const step = withKey({ name: uniqueName(type), type });
  if (type === "transform") step._mode = "inline";
  steps.push(step);
  markDirty();
  renderSteps({ focus: `${step._key}:${type === "transform" ? "template" : TYPES[type].fields[0].name}` });
});

if ($("wf-delete")) {
  $("wf-delete").addEventListener("click", async () => {
    if (!(await confirmDialog({ title: `Delete the workflow “${saved.name}”?`,
      message: "Its run history goes with it; this cannot be undone.", confirmLabel: "Delete", danger: true }))) return;
    try {
      await api("DELETE", urlFor(root.dataset.workflowApi, saved.id));
      location.assign(root.dataset.workflowsUrl);
    } catch (error) {
      showError($("wf-error"), error.message);
    }
  });
}

window.addEventListener("beforeunload", (event) => {
  if (dirty && !saving) event.preventDefault();
});

/* ---------- Run and history ---------- */

let runValues = null;
const runKey = newKey();

function renderRunForm() {
  if (!$("run-inputs")) return;
  runValues = valuesForm($("run-inputs"), saved.inputs || [], { prefix: "run" });
}

if ($("run-form")) {
  $("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors($("run-form"));
    showError($("run-error"), "");
    if (dirty) {
      showError($("run-error"), "Save your changes first: a run uses the saved steps.");
      return;
    }
    const { values, errors } = runValues.read();
    runValues.showErrors(errors);
    if (Object.keys(errors).length) {
      focusFirstError($("run-form"));
      return;
    }
    $("run-submit").disabled = true;
    try {
      const answer = await api("POST", urlFor(root.dataset.runsApi, saved.id), { inputs: values },
        { headers: { "Idempotency-Key": runKey } });
      location.assign(urlFor(root.dataset.runUrl, answer.run.id));
    } catch (error) {
      $("run-submit").disabled = false;
      if (!(error.status === 400 && runValues.showServerError(error.message))) showError($("run-error"), error.message);
    }
  });
}

function took(run) {
  if (!run.started_at || !run.finished_at) return "—";
  return formatMs(new Date(run.finished_at) - new Date(run.started_at));
}

function runRow(run) {
  const inputsText = Object.entries(run.inputs || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
  const status = badge(run.status);
  status.dataset.statusBadge = "";
  return el("tr", { "data-run-id": run.id, "data-job-id": run.job_id || "" },
    el("td", { "data-label": "Run" }, el("a", { href: urlFor(root.dataset.runUrl, run.id), text: `Run #${run.id}` })),
    el("td", { "data-label": "Status" }, status),
    el("td", { "data-label": "Inputs", class: "break-all" }, inputsText || el("span", { class: "muted", text: "—" })),
    el("td", { "data-label": "Started" }, el("time", { dateTime: run.created_at, text: formatTime(run.created_at) })),
    el("td", { "data-label": "Took", class: "cell-num", text: took(run) }));
}

function renderHistory() {
  if (!$("run-rows")) return;
  const runs = data.runs || [];
  $("run-rows").replaceChildren(...runs.map(runRow));
  $("run-count").textContent = String(runs.length);
  $("runs-empty").hidden = runs.length > 0;
  $("run-rows").closest(".table-wrap").hidden = runs.length === 0;
  const live = runs.filter((r) => r.job_id && !FINISHED.has(r.status));
  if (!live.length) return;
  const follower = new TaskFollower((state) => {
    const row = $("run-rows").querySelector(`tr[data-job-id="${state.task_id}"]`);
    if (row) setBadge(row.querySelector("[data-status-badge]"), state.status);
  });
  for (const run of live) follower.follow(run.job_id);
}

/* ---------- Start ---------- */

async function loadCatalogues() {
  const [m, b] = await Promise.allSettled([api("GET", root.dataset.modelsApi), api("GET", root.dataset.basesApi)]);
  if (m.status === "fulfilled") models = m.value.models || [];
  if (b.status === "fulfilled") bases = b.value.bases || [];
  const focused = document.activeElement;
  const key = focused && focused.closest("li[data-key]") ? focused.closest("li[data-key]").dataset.key : null;
  const field = focused && focused.dataset ? focused.dataset.field : null;
  renderSteps({ focus: key && field ? `${key}:${field}` : null });
}

if (saved) {
  $("wf-name").value = saved.name;
  $("wf-description").value = saved.description || "";
}
renderSteps();
renderRunForm();
renderHistory();
loadCatalogues();
scriptReady(); // Save and Run among them (a native submit would lose the work)
