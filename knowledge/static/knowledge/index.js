// The knowledge index: create a base through the JSON API, then open it.
import { api, urlFor } from "kit/api";
import { showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { localTimes } from "kit/time";

const root = document.getElementById("kb-index");
const form = document.getElementById("create-form");
const errorNode = document.getElementById("create-error");

localTimes(root);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = form.elements.name.value.trim();
  const description = form.elements.description.value.trim();
  showError(errorNode, "");
  form.elements.name.removeAttribute("aria-invalid");
  if (!name) {
    form.elements.name.setAttribute("aria-invalid", "true");
    showError(errorNode, "Give the knowledge base a name.");
    form.elements.name.focus();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const data = await api("POST", root.dataset.basesApi, { name, description });
    location.assign(urlFor(root.dataset.detailUrl, data.base.id));
  } catch (error) {
    showError(errorNode, error.message);
    button.disabled = false;
  }
});
scriptReady();
