/*
 * The app's confirmation dialog: a styled <dialog> instead of the browser's window.confirm(), which cannot be
 * styled, reads as an alarm and is blocked in some embedded browsers.
 *
 *   import { confirmDialog } from "kit/confirm";
 *   if (await confirmDialog({ title: "Revoke token?", message: "…", confirmLabel: "Revoke", danger: true })) …
 *
 * Forms can ask declaratively: <form data-confirm="Revoke token “x”?" data-confirm-message="…"
 * data-confirm-label="Revoke" data-confirm-danger> (wired for every page by shell.js). Without scripts the
 * form simply submits.
 */

let dialog = null;

function build() {
  dialog = document.createElement("dialog");
  dialog.className = "app-dialog";
  dialog.id = "app-confirm";
  dialog.setAttribute("aria-labelledby", "app-confirm-title");
  dialog.setAttribute("aria-describedby", "app-confirm-message");
  const form = document.createElement("form");
  form.method = "dialog";
  form.className = "app-dialog-form";
  const title = document.createElement("h2");
  title.id = "app-confirm-title";
  title.className = "app-dialog-title";
  const message = document.createElement("p");
  message.id = "app-confirm-message";
  message.className = "app-dialog-message muted";
  const actions = document.createElement("div");
  actions.className = "app-dialog-actions";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "btn btn-secondary";
  cancel.dataset.role = "cancel";
  cancel.textContent = "Cancel";
  const confirm = document.createElement("button");
  confirm.type = "submit";
  confirm.value = "confirm";
  confirm.dataset.role = "confirm";
  actions.append(cancel, confirm);
  form.append(title, message, actions);
  dialog.append(form);
  cancel.addEventListener("click", () => dialog.close("cancel"));
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close("cancel"); // a click on the backdrop
  });
  document.body.append(dialog);
}

/** Ask; resolves true when confirmed, false on Cancel, Escape or a click outside. */
export function confirmDialog({ title, message = "", confirmLabel = "OK", danger = false }) {
  if (!dialog) build();
  if (typeof dialog.showModal !== "function") return Promise.resolve(false);
  dialog.querySelector(".app-dialog-title").textContent = title;
  const text = dialog.querySelector(".app-dialog-message");
  text.textContent = message;
  text.hidden = !message;
  const confirm = dialog.querySelector('[data-role="confirm"]');
  confirm.textContent = confirmLabel;
  confirm.className = `btn ${danger ? "btn-danger" : "btn-primary"}`;
  dialog.returnValue = "";
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
        resolve(dialog.returnValue === "confirm");
      },
      { once: true },
    );
    dialog.showModal();
    // The safe choice has the focus when the action cannot be undone, so Enter does not destroy anything.
    dialog.querySelector(danger ? '[data-role="cancel"]' : '[data-role="confirm"]').focus();
  });
}

/** Every form with data-confirm asks first, and submits only when confirmed. */
export function initConfirmForms(root = document) {
  root.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed === "true") return;
    event.preventDefault();
    const submitter = event.submitter;
    const confirmed = await confirmDialog({
      title: form.dataset.confirm,
      message: form.dataset.confirmMessage || "",
      confirmLabel: form.dataset.confirmLabel || "OK",
      danger: "confirmDanger" in form.dataset,
    });
    if (!confirmed) return;
    form.dataset.confirmed = "true";
    form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
  });
}
