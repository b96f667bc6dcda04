// What the orchestrator pages share beyond the front-end kit (static/js): field errors tied to their
// fields, numbers and scores as people read them, strategy names, answer slot letters. Model output and
// everything users typed go into the DOM as text (or as sanitised markdown, kit/markdown).
import { el } from "kit/dom";

/* ---------- Field errors: shown under the field, announced, tied to it with aria-describedby ---------- */

let errorCounter = 0;

/** The message under `control` (an input, or a fieldset/div for a group); "" clears it. */
export function setFieldError(control, message) {
  if (!control) return;
  const holder = control.closest(".field, .orch-field, fieldset") || control.parentElement;
  let node = holder.querySelector(":scope > .field-error");
  if (!message) {
    if (node) node.remove();
    control.removeAttribute("aria-invalid");
    const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("ferr-"));
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
    return;
  }
  if (!node) {
    errorCounter += 1;
    node = el("p", { class: "field-error", id: `ferr-${errorCounter}`, role: "alert" });
    // Right under the control when it sits directly in its field, else at the end of the group.
    if (control.parentElement === holder && control !== holder) control.after(node);
    else holder.append(node);
  }
  node.textContent = message;
  control.setAttribute("aria-invalid", "true");
  const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
  described.add(node.id);
  control.setAttribute("aria-describedby", [...described].join(" "));
}

export function clearFieldErrors(root) {
  for (const node of root.querySelectorAll(".field-error")) node.remove();
  for (const node of root.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.startsWith("ferr-"));
    if (described.length) node.setAttribute("aria-describedby", described.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

/** Focus the first field with an error (and bring it into view). */
export function focusFirstError(root) {
  const first = root.querySelector('[aria-invalid="true"]');
  if (!first) return;
  first.scrollIntoView({ block: "center", behavior: "smooth" });
  if (typeof first.focus === "function") first.focus({ preventScroll: true });
}

/* ---------- Numbers ---------- */

export function formatMs(ms) {
  const value = Number(ms);
  if (ms == null || !Number.isFinite(value)) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)} s` : `${Math.round(value)} ms`;
}

export function percent(fraction) {
  if (fraction == null || !Number.isFinite(Number(fraction))) return "—";
  return `${Math.round(Math.min(1, Math.max(0, Number(fraction))) * 100)}%`;
}

/** "good" | "fair" | "poor" for a score where higher is better (flip for a risk). */
export function scoreLevel(score, { higherIsBetter = true } = {}) {
  if (score == null || !Number.isFinite(Number(score))) return "none";
  const value = higherIsBetter ? Number(score) : 1 - Number(score);
  return value >= 0.75 ? "good" : value >= 0.5 ? "fair" : "poor";
}

export const STRATEGY_TEXT = { cross_validate: "Cross-validate", vote: "Vote", judge: "Judge" };

/** The label's letter for answer slot 0, 1, … (A, B, … AA past Z), as the server names them. */
export function slotLabel(slot) {
  let letters = "";
  let n = Number(slot) + 1;
  while (n > 0) {
    const rest = (n - 1) % 26;
    letters = String.fromCharCode(65 + rest) + letters;
    n = Math.floor((n - 1) / 26);
  }
  return letters;
}
