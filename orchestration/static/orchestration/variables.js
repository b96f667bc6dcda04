// Typed variables (templates and workflow inputs), in two forms:
// - valuesForm: the form that asks for each variable's value, checked here exactly as the server checks
//   it (orchestration/variables.py), so a wrong value is caught before anything is sent; the server's
//   own errors are shown under the variable they name;
// - specEditor: the rows that declare variables (name, type, required, default, choices, description).
import { el } from "kit/dom";
import { setFieldError } from "./common.js";

export const TYPES = ["str", "text", "int", "float", "bool", "choice"];
export const TYPE_TEXT = { str: "Text (one line)", text: "Text (several lines)", int: "Whole number", float: "Number",
  bool: "Yes / no", choice: "Choice" };
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;
const INT = /^\s*[-+]?\d{1,18}\s*$/;
const FLOAT = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;
const STR_MAX = 2000;
const TEXT_MAX = 100_000;
const MAX_VARIABLES = 50;
const MAX_CHOICES = 100;
const DESCRIPTION_MAX = 500;

function shown(raw) {
  const text = String(raw);
  return `“${text.length > 40 ? `${text.slice(0, 40)}…` : text}”`;
}

/**
 * One value as the server would take it: {value} (converted), {error}, or {} when it is empty and
 * will be left out (the server then uses the default, or says it is required).
 */
export function coerce(spec, raw) {
  const text = raw == null ? "" : String(raw);
  switch (spec.type) {
    case "int":
      if (!INT.test(text)) return { error: `Expected a whole number, got ${shown(text)}.` };
      return { value: Number(text.trim()) };
    case "float": {
      const number = Number(text.trim());
      if (!FLOAT.test(text) || !Number.isFinite(number)) return { error: `Expected a number, got ${shown(text)}.` };
      return { value: number };
    }
    case "bool": {
      const word = text.trim().toLowerCase();
      if (["true", "yes", "on", "1"].includes(word)) return { value: true };
      if (["false", "no", "off", "0"].includes(word)) return { value: false };
      return { error: `Expected yes or no, got ${shown(text)}.` };
    }
    case "choice":
      if (!(spec.choices || []).includes(text)) return { error: `Expected one of ${(spec.choices || []).join(", ")}, got ${shown(text)}.` };
      return { value: text };
    case "text":
      if (text.length > TEXT_MAX) return { error: `At most ${TEXT_MAX.toLocaleString()} characters.` };
      return { value: text };
    default:
      if (text.includes("\n")) return { error: "Expected one line of text." };
      if (text.length > STR_MAX) return { error: `At most ${STR_MAX.toLocaleString()} characters.` };
      return { value: text };
  }
}

/** The check the server makes of a value before it runs anything (values_validate). */
export function checkValue(spec, raw) {
  const text = raw == null ? "" : String(raw);
  const empty = spec.type === "text" ? text === "" : text.trim() === "";
  if (empty) {
    if (spec.default != null) return { omit: true };
    if (spec.required) return { error: "Required: give a value." };
    return { omit: true };
  }
  return coerce(spec, text);
}

/** The variable a server message is about ("variable 'topic' is required …"), or null. */
export function variableNamed(message) {
  const match = /variable '([A-Za-z_][A-Za-z0-9_]*)'/.exec(String(message || ""));
  return match ? match[1] : null;
}

function displayDefault(spec) {
  if (spec.default == null) return "";
  if (spec.type === "bool") return spec.default ? "yes" : "no";
  return String(spec.default);
}

/**
 * The form asking for each variable's value, built in `container`. `initial` are values to start from.
 * Returns {read() → {values, errors}, showErrors(errors), showServerError(message) → bool, focus(name)}.
 */
export function valuesForm(container, specs, { prefix = "var", initial = {}, onInput = null } = {}) {
  const controls = new Map();
  container.replaceChildren();
  if (!specs.length) {
    container.append(el("p", { class: "muted small", text: "This one has no variables." }));
  }
  for (const spec of specs) {
    const id = `${prefix}-${spec.name}`;
    const start = initial[spec.name] ?? null;
    let control;
    if (spec.type === "text") {
      control = el("textarea", { id, rows: 4, maxLength: TEXT_MAX });
      control.value = start == null ? "" : String(start);
      if (spec.default != null) control.placeholder = `Default: ${displayDefault(spec)}`;
    } else if (spec.type === "bool") {
      control = el("select", { id });
      const unset = spec.default != null ? `Default (${displayDefault(spec)})` : spec.required ? "Choose…" : "Not set";
      control.append(el("option", { value: "", text: unset }), el("option", { value: "true", text: "Yes" }),
        el("option", { value: "false", text: "No" }));
      control.value = start == null ? "" : String(Boolean(start));
    } else if (spec.type === "choice") {
      control = el("select", { id });
      const unset = spec.default != null ? `Default (${spec.default})` : spec.required ? "Choose…" : "Not set";
      control.append(el("option", { value: "", text: unset }));
      for (const choice of spec.choices || []) control.append(el("option", { value: choice, text: choice }));
      control.value = start == null ? "" : String(start);
    } else {
      control = el("input", { id, type: "text", autocomplete: "off", maxLength: spec.type === "str" ? STR_MAX : 40 });
      if (spec.type === "int") control.inputMode = "numeric";
      if (spec.type === "float") control.inputMode = "decimal";
      control.value = start == null ? "" : String(start);
      if (spec.default != null) control.placeholder = `Default: ${displayDefault(spec)}`;
    }
    control.name = spec.name;
    control.dataset.variable = spec.name;
    if (spec.required && spec.default == null) control.setAttribute("aria-required", "true");
    const helpId = `${id}-help`;
    const help = [TYPE_TEXT[spec.type] || spec.type];
    if (spec.description) help.unshift(spec.description);
    control.setAttribute("aria-describedby", helpId);
    const label = el("label", { htmlFor: id },
      el("code", { class: "var-name", text: spec.name }),
      spec.required && spec.default == null ? el("span", { class: "req", text: "required" })
        : el("span", { class: "muted small", text: "optional" }));
    container.append(el("div", { class: "field var-field", "data-variable": spec.name }, label, control,
      el("p", { class: "field-help", id: helpId, text: help.join(" · ") })));
    controls.set(spec.name, control);
    if (onInput) control.addEventListener("input", onInput);
    if (onInput) control.addEventListener("change", onInput);
  }

  return {
    controls,
    read() {
      const values = {};
      const errors = {};
      for (const spec of specs) {
        const result = checkValue(spec, controls.get(spec.name).value);
        if (result.error) errors[spec.name] = result.error;
        else if (!result.omit) values[spec.name] = result.value;
      }
      return { values, errors };
    },
    /** The values as typed (for a preview), defaults filled in. */
    preview() {
      const out = {};
      for (const spec of specs) {
        const raw = controls.get(spec.name).value;
        out[spec.name] = raw === "" ? displayDefault(spec) : spec.type === "bool" ? (raw === "true" ? "true" : "false") : raw;
      }
      return out;
    },
    showErrors(errors) {
      for (const spec of specs) setFieldError(controls.get(spec.name), errors[spec.name] || "");
    },
    showServerError(message) {
      const name = variableNamed(message);
      if (!name || !controls.has(name)) return false;
      setFieldError(controls.get(name), message);
      return true;
    },
    focus(name) {
      const control = controls.get(name);
      if (control) control.focus();
    },
  };
}

/* ---------- Declaring variables ---------- */

function parseChoices(text) {
  return String(text || "").split(",").map((c) => c.trim()).filter(Boolean);
}

/**
 * Rows that declare variables, in `container`; `addButton` adds a row. Returns
 * {read() → {specs, errors}, showServerError(message) → bool, add(spec), names(), clearErrors()}.
 */
export function specEditor(container, specs, { addButton = null, prefix = "spec", onChange = null } = {}) {
  const rows = [];
  let counter = 0;

  function changed() {
    if (onChange) onChange();
  }

  function defaultControl(row, type, value) {
    let control;
    if (type === "bool") {
      control = el("select", { class: "spec-default" });
      control.append(el("option", { value: "", text: "No default" }), el("option", { value: "true", text: "Yes" }),
        el("option", { value: "false", text: "No" }));
      control.value = value == null ? "" : String(Boolean(value));
    } else {
      control = el("input", { type: "text", class: "spec-default", autocomplete: "off", placeholder: "No default" });
      control.value = value == null ? "" : String(value);
    }
    control.id = `${row.id}-default`;
    control.addEventListener("input", changed);
    control.addEventListener("change", changed);
    return control;
  }

  function add(spec = {}) {
    counter += 1;
    const id = `${prefix}-${counter}`;
    const row = { id };
    const name = el("input", { type: "text", id: `${id}-name`, class: "spec-name input-mono", autocomplete: "off",
      maxLength: 40, placeholder: "topic", value: spec.name || "" });
    const type = el("select", { id: `${id}-type`, class: "spec-type" });
    for (const t of TYPES) type.append(el("option", { value: t, text: TYPE_TEXT[t] }));
    type.value = spec.type || "str";
    const required = el("input", { type: "checkbox", id: `${id}-required`, class: "spec-required" });
    required.checked = spec.required ?? spec.default == null;
    const choices = el("input", { type: "text", id: `${id}-choices`, class: "spec-choices", autocomplete: "off",
      placeholder: "short, medium, long", value: (spec.choices || []).join(", ") });
    const description = el("input", { type: "text", id: `${id}-description`, class: "spec-description",
      autocomplete: "off", maxLength: DESCRIPTION_MAX, placeholder: "What to put here (shown in the form)",
      value: spec.description || "" });
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm spec-remove", text: "Remove" });
    const defaultField = el("div", { class: "orch-field spec-default-field" }, el("label", { htmlFor: `${id}-default`, text: "Default" }));
    let defaultInput = defaultControl(row, type.value, spec.default);
    defaultField.append(defaultInput);
    const choicesField = el("div", { class: "orch-field spec-choices-field" },
      el("label", { htmlFor: choices.id, text: "Choices (comma-separated)" }), choices);
    choicesField.hidden = type.value !== "choice";
    const node = el("li", { class: "spec-row", "data-row": id },
      el("div", { class: "orch-field spec-name-field" }, el("label", { htmlFor: name.id, text: "Name" }), name),
      el("div", { class: "orch-field" }, el("label", { htmlFor: type.id, text: "Type" }), type),
      defaultField,
      choicesField,
      el("div", { class: "orch-field spec-description-field" }, el("label", { htmlFor: description.id, text: "Description" }), description),
      el("div", { class: "spec-row-end" },
        el("label", { class: "check-label", htmlFor: required.id }, required, " Required"),
        remove));
    // Not a getter inside Object.assign: that copies the getter's value once, and read() then kept reading the
    // first default control after a change of type had replaced it, so the default typed was never sent.
    Object.assign(row, { node, name, type, required, choices, description, remove, defaultField });
    Object.defineProperty(row, "defaultInput", { get: () => defaultInput, enumerable: true });
    let previousType = type.value;
    type.addEventListener("change", () => {
      // A default typed for the old type is kept when it is still a valid one for the new type ("5" from text
      // to a whole number); yes/no is a different control, so it starts empty.
      const raw = defaultInput.value;
      const fits = raw !== "" && previousType !== "bool" && type.value !== "bool"
        && type.value !== "choice" && !coerce({ type: type.value }, raw).error;
      const next = defaultControl(row, type.value, fits ? raw : null);
      defaultInput.replaceWith(next);
      defaultInput = next;
      previousType = type.value;
      choicesField.hidden = type.value !== "choice";
      changed();
    });
    for (const input of [name, choices, description]) input.addEventListener("input", changed);
    required.addEventListener("change", changed);
    remove.addEventListener("click", () => {
      const at = rows.indexOf(row);
      if (at >= 0) rows.splice(at, 1);
      node.remove();
      const next = rows[at] || rows[at - 1];
      if (next) next.name.focus();
      else if (addButton) addButton.focus();
      changed();
    });
    rows.push(row);
    container.append(node);
    return row;
  }

  for (const spec of specs || []) add(spec);
  if (addButton) {
    addButton.addEventListener("click", () => {
      add({}).name.focus();
      changed();
    });
  }

  function clearErrors() {
    for (const row of rows) {
      for (const control of [row.name, row.type, row.choices, row.description, row.defaultInput]) setFieldError(control, "");
    }
  }

  return {
    add,
    clearErrors,
    names: () => rows.map((row) => row.name.value.trim()).filter(Boolean),
    /** {specs, errors: [[control, message]]}: the declarations checked as the server checks them. */
    read() {
      const specsOut = [];
      const errors = [];
      const seen = new Set();
      if (rows.length > MAX_VARIABLES) errors.push([rows[MAX_VARIABLES].name, `At most ${MAX_VARIABLES} variables.`]);
      for (const row of rows) {
        const name = row.name.value.trim();
        const type = row.type.value;
        const spec = { name, type, required: row.required.checked, description: row.description.value.trim() };
        if (!NAME.test(name)) {
          errors.push([row.name, name ? "Letters, digits and _ only, at most 40, not starting with a digit." : "Give the variable a name."]);
        } else if (seen.has(name)) {
          errors.push([row.name, `“${name}” is declared twice.`]);
        }
        seen.add(name);
        if (type === "choice") {
          const choices = parseChoices(row.choices.value);
          if (!choices.length) errors.push([row.choices, "A choice needs its choices, separated by commas."]);
          else if (choices.length > MAX_CHOICES || new Set(choices).size !== choices.length) {
            errors.push([row.choices, `At most ${MAX_CHOICES} choices, each once.`]);
          }
          spec.choices = choices;
        }
        const raw = row.defaultInput.value;
        if (raw !== "" && !(type !== "text" && raw.trim() === "")) {
          const result = coerce(spec, raw);
          if (result.error) errors.push([row.defaultInput, `Default: ${result.error}`]);
          else spec.default = result.value;
        }
        specsOut.push(spec);
      }
      return { specs: specsOut, errors };
    },
    /** Shows a server message under the row (and field) it names; false when it names none. */
    showServerError(message) {
      const text = String(message || "");
      let row = null;
      const index = /(?:variables|inputs)\[(\d+)\]/.exec(text);
      if (index) row = rows[Number(index[1])] || null;
      const name = variableNamed(text);
      if (!row && name) row = rows.find((r) => r.name.value.trim() === name) || null;
      if (!row) return false;
      let control = row.name;
      if (/choice/.test(text)) control = row.choices;
      else if (/default/.test(text)) control = row.defaultInput;
      else if (/type must/.test(text)) control = row.type;
      else if (/description/.test(text)) control = row.description;
      setFieldError(control, text);
      return true;
    },
  };
}

/** The `{{ name }}` placeholders in `text`, in order of first appearance. */
export function placeholders(text) {
  const found = [];
  for (const match of String(text || "").matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g)) {
    if (!found.includes(match[1])) found.push(match[1]);
  }
  return found;
}

/** `text` with each `{{ name }}` replaced by values[name] (for a preview; the server renders for real). */
export function renderPreview(text, values) {
  return String(text || "").replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}/g,
    (whole, name) => (values[name] != null && values[name] !== "" ? String(values[name]) : whole));
}
