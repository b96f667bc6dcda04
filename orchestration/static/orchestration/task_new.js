// The new-task form: a prompt or a template (its variables as a typed form, checked as the server checks
// them), models from the gateway's catalogue (or "all loaded"), the strategy and tiebreaker, instructions,
// knowledge bases and options. Creates the task through the JSON API and opens its live view; a server
// error is shown under the field it names.
import { api, newKey, urlFor } from "kit/api";
import { el, jsonData, showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { clearFieldErrors, focusFirstError, setFieldError, STRATEGY_TEXT } from "./common.js";
import { renderPreview, valuesForm } from "./variables.js";

const root = document.getElementById("task-new");
const form = document.getElementById("task-form");
const $ = (id) => document.getElementById(id);
const data = jsonData("form-data");
const initial = data.initial || {};
const idempotencyKey = newKey();
let mode = "prompt";
let models = []; // [{id, loaded}]
let variables = null; // the valuesForm of the chosen template
let submitting = false;

/* ---------- Question: prompt or template ---------- */

function setMode(next, { focus = false } = {}) {
  mode = next;
  for (const [name, tab, panel] of [["prompt", $("mode-prompt"), $("panel-prompt")], ["template", $("mode-template"), $("panel-template")]]) {
    const on = name === mode;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    panel.hidden = !on;
    if (on && focus) tab.focus();
  }
  summarize();
}

for (const tab of [$("mode-prompt"), $("mode-template")]) {
  tab.addEventListener("click", () => setMode(tab.id === "mode-prompt" ? "prompt" : "template"));
  tab.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      setMode(mode === "prompt" ? "template" : "prompt", { focus: true });
    }
  });
}

function chosenTemplate() {
  const id = Number($("task-template").value);
  return data.templates.find((t) => t.id === id) || null;
}

function updatePreview() {
  const template = chosenTemplate();
  $("template-preview-wrap").hidden = !template;
  if (template && variables) $("template-preview").textContent = renderPreview(template.body, variables.preview());
  summarize();
}

function showTemplate(values = {}) {
  const template = chosenTemplate();
  $("template-help").textContent = template ? template.description || "" : "";
  if (!template) {
    variables = null;
    $("template-vars").replaceChildren();
  } else {
    variables = valuesForm($("template-vars"), template.variables || [], { prefix: "tv", initial: values, onInput: updatePreview });
  }
  updatePreview();
}

for (const template of data.templates) $("task-template").append(el("option", { value: template.id, text: template.name }));
$("templates-none").hidden = data.templates.length > 0;
$("task-template").disabled = data.templates.length === 0;
$("task-template").addEventListener("change", () => {
  setFieldError($("task-template"), "");
  showTemplate();
});
$("task-prompt").addEventListener("input", summarize);

/* ---------- Models ---------- */

function modelsMode() {
  return $("models-all").checked ? "all_loaded" : "choose";
}

function chosenModels() {
  return [...$("model-list").querySelectorAll('input[name="model"]:checked')].map((input) => input.value);
}

function renderModels() {
  const list = $("model-list");
  const keep = new Set(chosenModels().length ? chosenModels() : initial.models || []);
  list.replaceChildren();
  for (const model of models) {
    const id = `model-${model.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const input = el("input", { type: "checkbox", name: "model", value: model.id, id });
    input.checked = keep.has(model.id);
    input.addEventListener("change", () => {
      setFieldError($("models-fieldset"), "");
      summarize();
    });
    list.append(el("li", {},
      el("label", { class: "check-card", htmlFor: id }, input,
        el("span", { class: "check-card-name", text: model.id }),
        el("span", { class: `badge ${model.loaded ? "badge-success" : "badge-neutral"}`, text: model.loaded ? "loaded" : "not loaded" }))));
  }
  const judge = $("task-judge");
  const current = judge.value || initial.judge_model || "";
  judge.replaceChildren(judge.options[0]);
  for (const model of models) judge.append(el("option", { value: model.id, text: model.id }));
  judge.value = models.some((m) => m.id === current) ? current : "";
  list.hidden = modelsMode() === "all_loaded";
  summarize();
}

async function loadModels() {
  const status = $("models-status");
  try {
    const answer = await api("GET", root.dataset.modelsApi);
    models = answer.models || [];
    const loaded = models.filter((m) => m.loaded).length;
    status.textContent = models.length
      ? `${models.length} model${models.length === 1 ? "" : "s"} available, ${loaded} loaded.`
      : "No backend lists a chat model: add one on the Models page.";
  } catch (error) {
    status.textContent = error.message;
    status.classList.add("text-danger");
  }
  renderModels();
}

for (const radio of [$("models-choose"), $("models-all")]) {
  radio.addEventListener("change", () => {
    setFieldError($("models-fieldset"), "");
    $("model-list").hidden = modelsMode() === "all_loaded";
    summarize();
  });
}

/* ---------- Strategy ---------- */

function strategy() {
  const checked = form.querySelector('input[name="strategy"]:checked');
  return checked ? checked.value : "cross_validate";
}

for (const choice of data.tiebreakers) $("task-tiebreaker").append(el("option", { value: choice.value, text: choice.label }));

function updateStrategy() {
  const current = strategy();
  $("tiebreaker-field").hidden = current !== "cross_validate";
  $("judge-field").hidden = current === "vote" || (current === "cross_validate" && $("task-tiebreaker").value === "vote");
  for (const card of form.querySelectorAll(".strategy-card")) {
    card.classList.toggle("is-selected", card.querySelector("input").checked);
  }
  summarize();
}

for (const radio of form.querySelectorAll('input[name="strategy"]')) radio.addEventListener("change", updateStrategy);
$("task-tiebreaker").addEventListener("change", updateStrategy);

/* ---------- Instructions and knowledge bases ---------- */

function checkItem(name, value, title, detail, checked) {
  const id = `${name}-${value}`;
  const input = el("input", { type: "checkbox", name, value, id });
  input.checked = checked;
  return el("li", {}, el("label", { class: "check-item", htmlFor: id }, input,
    el("span", {}, el("span", { class: "check-item-title", text: title }),
      detail ? el("span", { class: "check-item-detail muted small", text: detail }) : null)));
}

const startInstructions = new Set(initial.instruction_ids || []);
for (const item of data.instructions) {
  const excerpt = item.content.length > 90 ? `${item.content.slice(0, 89)}…` : item.content;
  $("instruction-list").append(checkItem("instruction", item.id, item.name, excerpt, startInstructions.has(item.id)));
}
$("instructions-none").hidden = data.instructions.length > 0;

async function loadBases() {
  const status = $("kb-status");
  try {
    const answer = await api("GET", root.dataset.basesApi);
    const bases = answer.bases || [];
    const start = new Set(initial.knowledge_base_ids || []);
    for (const base of bases) {
      const count = base.chunk_count != null ? `${base.chunk_count} chunk${base.chunk_count === 1 ? "" : "s"}` : "";
      $("kb-list").append(checkItem("kb", base.id, base.name, count, start.has(base.id)));
    }
    status.hidden = bases.length > 0;
    status.textContent = bases.length ? "" : "No knowledge bases yet.";
    if (!bases.length) status.append(" ", el("a", { href: root.dataset.knowledgeUrl, text: "Create one" }), " to ground answers in your documents.");
  } catch (error) {
    status.textContent = error.message;
  }
}

/* ---------- Summary ---------- */

// What a strategy cannot do with one model, said before the task runs (it would run, and end "unchecked").
const NEEDS_TWO = {
  cross_validate: "Cross-validation needs at least two models; with one, its answer is not checked against another",
  vote: "A vote needs at least two models; with one, there is nothing to vote on and its answer is not checked against another",
  judge: "Judging needs at least two models; with one, there is nothing to choose from and its answer is not checked against another",
};

function warnAboutOneModel(n, current) {
  const notice = $("strategy-notice");
  const text = n === 1 ? NEEDS_TWO[current] : null;
  notice.hidden = !text;
  notice.textContent = text ? `${text}: its confidence then comes from the hallucination check alone. Choose another model to have it checked.` : "";
}

function summarize() {
  const question = mode === "prompt" ? $("task-prompt").value.trim() : chosenTemplate()?.name || "";
  $("sum-question").textContent = question ? (question.length > 60 ? `${question.slice(0, 59)}…` : question) : "—";
  const all = modelsMode() === "all_loaded";
  const n = all ? models.filter((m) => m.loaded).length : chosenModels().length;
  $("models-count").textContent = all ? "all loaded" : `${n} chosen`;
  $("sum-models").textContent = all ? `All loaded (${n})` : n ? chosenModels().join(", ") : "—";
  const current = strategy();
  $("sum-strategy").textContent = STRATEGY_TEXT[current] || current;
  warnAboutOneModel(n, current);
  if (!n) {
    $("sum-calls").textContent = "—";
    return;
  }
  let calls = n;
  if (n > 1 && current === "cross_validate") calls += n * (n - 1);
  if (n > 1 && current === "vote") calls += n;
  const judged = n > 1 && (current === "judge" || (current === "cross_validate" && $("task-tiebreaker").value === "judge"));
  $("sum-calls").textContent = judged && current === "cross_validate" ? `${calls} (+1 if they disagree)` : String(calls + (judged ? 1 : 0));
}

/* ---------- Submit ---------- */

const FIELD_OF = [
  [/^prompt\b|renders to an empty prompt/, () => $("task-prompt")],
  [/^template_id\b/, () => $("task-template")],
  [/^models\b/, () => $("models-fieldset")],
  [/^judge_model\b/, () => $("task-judge")],
  [/^strategy\b/, () => $("strategy-fieldset")],
  [/^tiebreaker\b/, () => $("task-tiebreaker")],
  [/^instruction_ids\b/, () => $("instructions-fieldset")],
  [/^knowledge_base_ids\b/, () => $("kb-fieldset")],
  [/^system_prompt\b/, () => $("task-system")],
  [/^title\b/, () => $("task-title")],
  [/^options\.temperature\b/, () => $("task-temperature")],
  [/^options\.max_tokens\b/, () => $("task-max-tokens")],
];

/** Shows a server message under the field it names (opening the advanced options if need be). */
function showServerError(message) {
  if (mode === "template" && variables && variables.showServerError(message)) return true;
  for (const [pattern, find] of FIELD_OF) {
    if (pattern.test(message)) {
      const control = find();
      if (control.closest("details") && !control.closest("details").open) control.closest("details").open = true;
      setFieldError(control, message);
      return true;
    }
  }
  return false;
}

function number(input, { integer, min, max, label }) {
  const raw = input.value.trim();
  if (!raw) return { value: undefined };
  const pattern = integer ? /^[-+]?\d{1,9}$/ : /^[-+]?(\d+\.?\d*|\.\d+)$/;
  const value = Number(raw);
  if (!pattern.test(raw) || value < min || value > max) {
    return { error: `${label}: ${integer ? "a whole number" : "a number"} from ${min} to ${max}.` };
  }
  return { value };
}

function collect() {
  const errors = [];
  const body = {};
  if (mode === "prompt") {
    const prompt = $("task-prompt").value;
    if (!prompt.trim()) errors.push([$("task-prompt"), "Write the prompt the models should answer."]);
    body.prompt = prompt;
  } else {
    const template = chosenTemplate();
    if (!template) {
      errors.push([$("task-template"), "Choose a template, or write a prompt instead."]);
    } else {
      body.template_id = template.id;
      const read = variables.read();
      variables.showErrors(read.errors);
      for (const name of Object.keys(read.errors)) errors.push([variables.controls.get(name), null]);
      body.variables = read.values;
    }
  }
  if (modelsMode() === "all_loaded") {
    body.models = "all_loaded";
  } else {
    const chosen = chosenModels();
    if (!chosen.length) errors.push([$("models-fieldset"), "Choose at least one model (two or more to cross-check)."]);
    else if (chosen.length > data.max_models) errors.push([$("models-fieldset"), `Choose at most ${data.max_models} models.`]);
    body.models = chosen;
  }
  body.strategy = strategy();
  if (body.strategy === "cross_validate") body.tiebreaker = $("task-tiebreaker").value;
  if ($("task-judge").value && !$("judge-field").hidden) body.judge_model = $("task-judge").value;
  body.instruction_ids = [...form.querySelectorAll('input[name="instruction"]:checked')].map((i) => Number(i.value));
  body.knowledge_base_ids = [...form.querySelectorAll('input[name="kb"]:checked')].map((i) => Number(i.value));
  if ($("task-system").value.trim()) body.system_prompt = $("task-system").value;
  if ($("task-title").value.trim()) body.title = $("task-title").value.trim();
  const options = { hallucination_check: $("task-hallucination").checked };
  const temperature = number($("task-temperature"), { integer: false, min: 0, max: 2, label: "Temperature" });
  const maxTokens = number($("task-max-tokens"), { integer: true, min: 1, max: 32768, label: "Longest answer" });
  for (const [result, control, key] of [[temperature, $("task-temperature"), "temperature"], [maxTokens, $("task-max-tokens"), "max_tokens"]]) {
    if (result.error) {
      errors.push([control, result.error]);
      $("advanced").open = true;
    } else if (result.value !== undefined) {
      options[key] = result.value;
    }
  }
  body.options = options;
  return { body, errors };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (submitting) return;
  clearFieldErrors(form);
  showError($("task-error"), "");
  const { body, errors } = collect();
  if (errors.length) {
    for (const [control, message] of errors) if (message) setFieldError(control, message);
    showError($("task-error"), `Fix the ${errors.length === 1 ? "field" : `${errors.length} fields`} marked in red.`);
    focusFirstError(form);
    return;
  }
  submitting = true;
  const button = $("task-submit");
  button.disabled = true;
  button.textContent = "Starting…";
  try {
    const answer = await api("POST", root.dataset.tasksApi, body, { headers: { "Idempotency-Key": idempotencyKey } });
    location.assign(urlFor(root.dataset.taskUrl, answer.task.id));
  } catch (error) {
    submitting = false;
    button.disabled = false;
    button.textContent = "Run task";
    const placed = error.status === 400 && showServerError(error.message);
    showError($("task-error"), placed ? "The server refused the task: see the field marked in red." : error.message);
    if (placed) focusFirstError(form);
  }
});

// A field's error goes as soon as it is edited; the summary goes with the last of them.
function clearOnEdit(event) {
  const target = event.target;
  const holder = target.closest("fieldset") || target;
  const control = holder.matches("fieldset") && holder.hasAttribute("aria-invalid") ? holder : target;
  setFieldError(control, "");
  if (!form.querySelector('[aria-invalid="true"]')) showError($("task-error"), "");
}
form.addEventListener("input", clearOnEdit);
form.addEventListener("change", clearOnEdit);

/* ---------- Start ---------- */

if (initial.strategy) {
  const radio = form.querySelector(`input[name="strategy"][value="${initial.strategy}"]`);
  if (radio) radio.checked = true;
}
if (initial.tiebreaker) $("task-tiebreaker").value = initial.tiebreaker;
if (initial.template_id && data.templates.some((t) => t.id === initial.template_id)) {
  $("task-template").value = String(initial.template_id);
  setMode("template");
  showTemplate(initial.variables || {});
} else if (initial.prompt) {
  $("task-prompt").value = initial.prompt;
}
if (initial.title && initial.id) $("task-title").value = initial.title;
if (initial.options) {
  if (initial.options.temperature != null) $("task-temperature").value = String(initial.options.temperature);
  if (initial.options.max_tokens != null) $("task-max-tokens").value = String(initial.options.max_tokens);
  if (initial.options.hallucination_check === false) $("task-hallucination").checked = false;
}
updateStrategy();
summarize();
loadModels();
loadBases();
scriptReady(); // the form's submit among them (a native submit would lose the work)
