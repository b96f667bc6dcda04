// The backend form's "Test connection": asks the address in the form (nothing saved yet) for its models and
// says what it found, or what it answered. All text goes in through textContent.
import { postJSON } from "kit/api";
import { el } from "kit/dom";
import { scriptReady } from "kit/ready";

const form = document.getElementById("backend-form");
const button = document.getElementById("test-connection");
const result = document.getElementById("connection-result");

function show(kind, title, detail = "") {
  result.dataset.state = kind;
  result.replaceChildren(el("strong", { text: title }), detail ? el("p", { class: "small", text: detail }) : null);
  result.hidden = false;
}

button.addEventListener("click", async () => {
  const value = (name) => form.elements[name]?.value || "";
  button.disabled = true;
  show("pending", `Asking ${value("base_url") || "the backend"}…`);
  try {
    const data = await postJSON(form.dataset.testUrl, {
      base_url: value("base_url"), kind: value("kind"), api_key: value("api_key"),
      name: form.dataset.backendName || "",
    });
    if (data.ok) {
      const models = data.models || [];
      const names = models.slice(0, 12).map((m) => `${m.id}${m.loaded ? " (loaded)" : ""}`).join(", ");
      show("ok", `Connected in ${Math.round(data.ms)} ms: ${models.length} model${models.length === 1 ? "" : "s"}`,
        models.length ? names + (models.length > 12 ? ", …" : "") : "It answers, but lists no model: load one there.");
    } else {
      show("fail", "It did not answer as expected", data.error || "no details");
    }
  } catch (error) {
    show("fail", "Could not test it", error.message || String(error));
  } finally {
    button.disabled = false;
  }
});

scriptReady(form);
