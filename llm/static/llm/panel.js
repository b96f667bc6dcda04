// The model control panel: backends and models from /models/api/state (every 10 s), load/unload,
// benchmarks and long texts followed live over /ws (`task:subscribe`; polled only while the socket is
// down), compare, token count. All text goes in through textContent.
import { getJSON, postJSON, urlFor } from "kit/api";
import { FINISHED, badge } from "kit/badges";
import { el } from "kit/dom";
import { poll, throttled } from "kit/poll";
import { TaskFollower } from "kit/tasks";

const root = document.getElementById("panel");
const isStaff = root.dataset.staff === "1";
const $ = (id) => document.getElementById(id);

function cell(label, ...content) {
  return el("td", { "data-label": label }, ...content);
}

let lastState = null;

function renderBackends(state) {
  const body = $("backend-rows");
  body.replaceChildren();
  $("backends-empty").hidden = state.backends.length > 0;
  for (const b of state.backends) {
    const name = el("td", { "data-label": "Backend", class: "cell-strong" },
      el("div", { text: b.name }),
      el("div", { class: "muted small", text: `${b.kind_label} · ${b.url}` }));
    // An embedded model server that crashed: what happened and what to do, in the row, not in a tooltip.
    if (b.reason) name.append(el("div", { class: "small text-danger backend-reason", role: "status", text: b.reason }));
    const status = badge(b.status);
    if (b.error) status.title = b.error;
    const circuit = badge(b.circuit, { kind: "circuit" });
    if (b.last_error) circuit.title = `last error: ${b.last_error}`;
    const row = el("tr", {}, name, cell("Status", status), cell("Circuit", circuit),
      cell("In flight", `${b.in_flight} / ${b.max_concurrency}`),
      cell("Latency", b.latency_ms == null ? "—" : `${b.latency_ms} ms`),
      cell("Models", String(b.models.length)));
    if (isStaff) {
      row.append(el("td", { class: "cell-actions" },
        el("a", { class: "btn btn-ghost btn-sm", href: `/models/backends/${encodeURIComponent(b.name)}/edit/`, text: "Edit",
          ariaLabel: `Edit backend ${b.name}` })));
    }
    body.append(row);
  }
}

function renderModels(state) {
  const body = $("model-rows");
  body.replaceChildren();
  const names = new Set();
  for (const b of state.backends) {
    for (const m of b.models) {
      names.add(m.id);
      const actions = el("td", { class: "cell-actions" });
      const group = el("div", { class: "btn-group" });
      if (isStaff && m.manageable) {
        const verb = m.loaded ? "unload" : "load";
        group.append(el("button", { type: "button", class: "btn btn-secondary btn-sm", text: m.loaded ? "Unload" : "Load",
          ariaLabel: `${m.loaded ? "Unload" : "Load"} ${m.id} on ${b.name}`,
          onclick: () => modelAction(b.name, m.id, verb) }));
      }
      if (isStaff && !m.manageable) {
        group.append(el("span", { class: "muted small", text: "load/unload: not on this server",
          title: `${b.kind_label} does not load or unload models on request; it serves what it was started with.` }));
      }
      group.append(el("button", { type: "button", class: "btn btn-ghost btn-sm", text: "Benchmark",
        ariaLabel: `Benchmark ${m.id} on ${b.name}`, onclick: () => benchmark(b.name, m.id) }));
      actions.append(group);
      body.append(el("tr", {},
        el("td", { "data-label": "Model", class: "cell-strong", text: m.id }),
        cell("Backend", b.name),
        cell("State", badge(m.loaded ? "loaded" : "not loaded")),
        cell("Context", m.context_length ? m.context_length.toLocaleString() : "—"),
        actions));
    }
  }
  if (!body.children.length) {
    body.append(el("tr", {}, el("td", { colSpan: 5, class: "muted", text: "No models: no backend answers yet." })));
  }
  renderCompareChoices([...names].sort());
  renderModelSelect($("long-model"), [...names].sort());
}

function renderModelSelect(select, names) {
  const current = select.value;
  select.replaceChildren(...names.map((name) => el("option", { value: name, text: name })));
  if (names.includes(current)) select.value = current;
}

/* ---------- Jobs (benchmark, long text): live over /ws, polled only while the socket is down ---------- */

const watched = new Map(); // job id -> {bar, status, resolve, refetch, fallback}
const follower = new TaskFollower((frame) => {
  const watch = watched.get(frame.task_id);
  if (!watch) return;
  watch.bar.value = frame.progress || 0;
  watch.refetch(); // the frame has the progress; the job's line of text and its result come from the API
});

async function jobRefresh(id) {
  const watch = watched.get(id);
  if (!watch) return;
  let data;
  try {
    data = await getJSON(urlFor(root.dataset.jobUrl, id));
  } catch {
    return; // asked again on the next update (or the next poll)
  }
  watch.bar.value = data.progress || 0;
  watch.status.textContent = data.message || data.status;
  if (!FINISHED.has(data.status) || !watched.has(id)) return;
  watched.delete(id);
  watch.fallback.stop();
  follower.forget(id);
  watch.resolve(data);
}

/** Resolves with the job's final state (as /models/api/jobs/<id> shapes it) once it has ended. */
function followJob(jobId, bar, status) {
  const id = Number(jobId);
  return new Promise((resolve) => {
    watched.set(id, {
      bar, status, resolve,
      refetch: throttled(() => jobRefresh(id), 250),
      fallback: poll(() => (follower.isOpen ? null : jobRefresh(id)), 1500, { whileHidden: true }),
    });
    follower.follow(id);
  });
}

function renderCompareChoices(names) {
  const box = $("compare-models");
  // With fewer than two models there is nothing to compare: say so instead of offering it.
  const tooFew = names.length < 2;
  $("compare-too-few").hidden = !tooFew || names.length === 0;
  $("compare-submit").disabled = tooFew;
  $("compare-prompt").disabled = tooFew;
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren();
  names.forEach((name, index) => {
    const id = `cmp-${index}`;
    box.append(el("div", { class: "field--check" },
      el("input", { type: "checkbox", id, value: name, checked: checked.has(name) }),
      el("label", { htmlFor: id, text: name })));
  });
}

async function refresh(force = false) {
  try {
    lastState = await getJSON(`${root.dataset.stateUrl}${force ? "?refresh=1" : ""}`);
    renderBackends(lastState);
    renderModels(lastState);
    const up = lastState.backends.filter((b) => b.status === "up").length;
    $("panel-status").textContent = `${up} of ${lastState.backends.length} backends answering.`;
    if (lastState.refreshed_at) {
      $("refreshed-at").textContent = `models checked ${new Date(lastState.refreshed_at * 1000).toLocaleTimeString()}`;
    }
  } catch (error) {
    $("panel-status").textContent = `Could not load the backends: ${error.message}. Retrying…`;
  }
}

async function modelAction(backend, model, verb) {
  $("action-status").textContent = `${verb === "load" ? "Loading" : "Unloading"} ${model} on ${backend}…`;
  try {
    await postJSON(`/models/api/backends/${encodeURIComponent(backend)}/${verb}`, { model });
    $("action-status").textContent = `${model} ${verb === "load" ? "loaded" : "unloaded"} on ${backend}.`;
  } catch (error) {
    $("action-status").textContent = `Could not ${verb} ${model}: ${error.message}`;
  }
  refresh();
}

async function benchmark(backend, model) {
  const box = $("bench-progress");
  box.hidden = false;
  $("bench-label").textContent = `Benchmark of ${model} on ${backend}`;
  $("bench-bar").value = 0;
  $("bench-message").textContent = "queued…";
  let job;
  try {
    job = await postJSON(root.dataset.benchmarkUrl, { backend, model, runs: 3 });
  } catch (error) {
    $("bench-message").textContent = `Could not start: ${error.message}`;
    return;
  }
  const data = await followJob(job.job_id, $("bench-bar"), $("bench-message"));
  if (data.status !== "succeeded" || !data.result) return;
  const r = data.result;
  $("bench-empty")?.remove();
  $("bench-rows").prepend(el("tr", {},
    el("td", { "data-label": "Model", class: "cell-strong", text: r.model }), cell("Backend", r.backend),
    cell("Runs", String(r.runs)), cell("TTFT ms", r.ttft_ms.map((v) => Math.round(v)).join(" / ")),
    cell("Tokens/s", r.tokens_per_s[1].toFixed(1)), cell("Latency ms", String(Math.round(r.latency_ms[1]))),
    cell("When", "just now")));
  $("bench-message").textContent = `Done: ${r.tokens_per_s[1].toFixed(1)} tokens/s, first token in ${Math.round(r.ttft_ms[1])} ms (median).`;
}

$("compare-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const models = [...$("compare-models").querySelectorAll("input:checked")].map((i) => i.value);
  const prompt = $("compare-prompt").value;
  const results = $("compare-results");
  if (models.length < 2 || models.length > 6) {
    $("compare-status").textContent = "Choose 2 to 6 models.";
    return;
  }
  $("compare-status").textContent = `Asking ${models.length} models…`;
  results.replaceChildren();
  try {
    const data = await postJSON(root.dataset.compareUrl, { models, prompt });
    for (const r of data.results) {
      const meta = r.ok
        ? `${r.backend} · first token ${Math.round(r.timings.ttft_ms)} ms · ${Math.round(r.timings.total_ms)} ms total`
        : "failed";
      results.append(el("article", { class: "card compare-card" },
        el("div", { class: "card-header" }, el("h3", { class: "card-title", text: r.model })),
        el("div", { class: "card-body" },
          el("p", { class: "muted small", text: meta }),
          el("pre", { class: "compare-answer", text: r.ok ? (r.content || "(empty answer)") : r.error }))));
    }
    $("compare-status").textContent = "Done.";
  } catch (error) {
    $("compare-status").textContent = `Compare failed: ${error.message}`;
  }
});

$("tokenize-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const data = await postJSON(root.dataset.tokenizeUrl, { text: $("tokenize-text").value });
    // `method` already says "estimate (~4 characters a token)" or names the tokenizer that counted.
    $("tokenize-result").textContent = `${data.count} tokens (${data.exact ? `exact, ${data.method}` : data.method})`;
  } catch (error) {
    $("tokenize-result").textContent = `Could not count: ${error.message}`;
  }
});

$("long-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const bar = $("long-bar");
  const result = $("long-result");
  bar.hidden = false;
  bar.value = 0;
  result.hidden = true;
  try {
    const job = await postJSON(root.dataset.longTextUrl, {
      model: $("long-model").value, text: $("long-text").value, instruction: $("long-instruction").value,
    });
    const data = await followJob(job.job_id, bar, $("long-status"));
    if (data.status === "succeeded") {
      result.textContent = data.result || "(empty answer)";
      result.hidden = false;
    }
  } catch (error) {
    $("long-status").textContent = `Could not start: ${error.message}`;
  }
});

$("refresh").addEventListener("click", () => refresh(true));
refresh();
poll(refresh, 10_000);
