/*
 * The figures in text: the strip at the top (a live region), the card headers, per-core bars, disks,
 * GPUs and the backends table. They always show the latest live snapshot, whatever range the charts show.
 */
import { badge } from "kit/badges";
import { el, setText } from "kit/dom";
import {
  $, bytes, currentPoints, duration, pct, rate, root, secondsFormat, snapshotFor, STALE_AFTER_MS, state, STRIP_STEP,
} from "./page.js";

/* ---------- Figures in text ---------- */

export function stripSet(name, value, text) {
  const tile = root.querySelector(`[data-stat="${name}"]`);
  if (!tile) return;
  const shown = state.strip[name];
  const step = STRIP_STEP[name];
  if (step && typeof value === "number" && typeof shown === "number" && Math.abs(value - shown) < step) return;
  state.strip[name] = value;
  setText(tile.querySelector("[data-value]"), text);
}

export function usageBar(percent) {
  const bar = el("span", { class: "usage-bar", "aria-hidden": "true" }, el("span", { class: "usage-fill" }));
  fillBar(bar, percent);
  return bar;
}

export function fillBar(bar, percent) {
  const fill = bar.firstElementChild;
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  fill.style.width = `${p}%`;
  bar.dataset.level = p >= 90 ? "high" : p >= 75 ? "mid" : "low";
}

export function renderCores(perCore) {
  const list = $("cpu-cores");
  const cores = perCore || [];
  if (list.children.length !== cores.length) {
    list.classList.toggle("core-bars--dense", cores.length > 16);
    list.replaceChildren(
      ...cores.map(() =>
        el("li", { class: "core" },
          el("span", { class: "core-track", "aria-hidden": "true" }, el("span", { class: "core-fill" })),
          el("span", { class: "core-label", "aria-hidden": "true" }),
          el("span", { class: "visually-hidden" })),
      ),
    );
  }
  cores.forEach((value, i) => {
    const li = list.children[i];
    const text = `Core ${i}: ${pct(value)}`;
    li.title = text;
    setText(li.children[1], `${Math.round(value)}`);
    setText(li.children[2], text);
    li.firstElementChild.firstElementChild.style.height = `${Math.max(2, Math.min(100, Number(value) || 0))}%`;
    li.dataset.level = value >= 90 ? "high" : value >= 75 ? "mid" : "low";
  });
  if (cores.length) {
    const busiest = Math.max(...cores);
    setText($("cores-summary"), `· ${cores.length} cores, busiest at ${pct(busiest)}`);
  } else setText($("cores-summary"), "");
}

export function renderDisks(snapshot) {
  const list = $("disk-volumes");
  const disks = snapshot.disks && snapshot.disks.length ? snapshot.disks : [{ mount: "/", ...snapshot.disk }];
  const key = disks.map((d) => d.mount).join("|");
  if (list.dataset.mounts !== key) {
    list.dataset.mounts = key;
    list.replaceChildren(
      ...disks.map(() =>
        el("li", { class: "usage-item" },
          el("span", { class: "usage-name" }), el("span", { class: "usage-text muted small" }), usageBar(0)),
      ),
    );
  }
  disks.forEach((d, i) => {
    const li = list.children[i];
    setText(li.children[0], d.mount);
    setText(li.children[1], `${bytes(d.used)} of ${bytes(d.total)} (${pct(d.percent)})`);
    fillBar(li.children[2], d.percent);
  });
}

export function renderGpus(gpus) {
  const body = $("gpu-rows");
  const rows = gpus.map((g) =>
    el("tr", {},
      el("td", { "data-label": "GPU", class: "cell-strong" }, `${g.index}: ${g.name}`),
      el("td", { "data-label": "Utilisation" }, pct(g.utilization_percent)),
      el("td", { "data-label": "Memory" }, `${pct(g.memory_percent)} · ${bytes(g.memory_used)} of ${bytes(g.memory_total)}`),
      el("td", { "data-label": "Temperature" }, g.temperature_c == null ? "—" : `${Math.round(g.temperature_c)} °C`),
      el("td", { "data-label": "Power" }, g.power_w == null ? "—" : `${Math.round(g.power_w)} W`),
    ),
  );
  const signature = JSON.stringify(rows.map((r) => r.textContent));
  if (body.dataset.signature !== signature) {
    body.dataset.signature = signature;
    body.replaceChildren(...rows);
  }
}

export function gpuVisibility() {
  const snapshot = snapshotFor(state.host);
  const liveGpus = snapshot ? (snapshot.gpu || []).length : 0;
  const historyGpus = state.range !== "live" && currentPoints().some((p) => p.gpu_util != null);
  const none = Boolean(snapshot || state.range !== "live") && !liveGpus && !historyGpus;
  $("gpu-none").hidden = !none;
  $("gpu-present").hidden = none;
}

export function serverText(server) {
  if (!server) return "—";
  const parts = [];
  if (server.predicted_tokens_per_s != null) parts.push(`${server.predicted_tokens_per_s} tok/s`);
  if (server.kv_cache_usage_ratio != null) parts.push(`KV ${pct(server.kv_cache_usage_ratio * 100)}`);
  if (server.requests_deferred) parts.push(`${server.requests_deferred} waiting`);
  return parts.join(" · ") || "—";
}

export function renderBackends(backends) {
  const body = $("backend-rows");
  const signature = JSON.stringify(backends);
  if (body.dataset.signature === signature) return;
  body.dataset.signature = signature;
  if (!backends.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No LLM backend is enabled." })));
    return;
  }
  body.replaceChildren(
    ...backends.map((b) => {
      const status = badge(b.status);
      if (b.error) status.title = b.error;
      const circuit = b.circuit ? badge(b.circuit, { kind: "circuit" }) : badge("unknown", { text: "—" });
      const name = el("td", { "data-label": "Backend", class: "cell-strong" }, b.name);
      if (b.reason) name.append(el("div", { class: "small text-danger backend-reason", text: b.reason }));
      return el("tr", { "data-backend": b.name },
        name,
        el("td", { "data-label": "Status" }, status),
        el("td", { "data-label": "Circuit" }, circuit),
        el("td", { "data-label": "In flight" }, String(b.in_flight ?? 0)),
        el("td", { "data-label": "Latency" }, b.latency_ms == null ? "—" : `${Math.round(b.latency_ms)} ms`),
        el("td", { "data-label": "Server", class: "muted" }, serverText(b.server)),
      );
    }),
  );
}

export function renderNow() {
  const frame = state.latest;
  const snapshot = snapshotFor(state.host);
  const stale = $("stale-note");
  if (!snapshot) {
    if (frame) {
      stale.hidden = false;
      setText(stale.querySelector("[data-stale-text]"),
        `No live figures from ${state.host}: its sampler (a Celery worker on that host) is not reporting. History is still available.`);
    }
    return;
  }
  const age = frame.ts - snapshot.ts;
  stale.hidden = age < STALE_AFTER_MS;
  if (!stale.hidden) {
    setText(stale.querySelector("[data-stale-text]"),
      `The figures from ${state.host} are ${duration(age / 1000)} old: its sampler (a Celery worker on that host) may be down.`);
  }

  const { cpu, memory, disk, network } = snapshot;
  setText($("cpu-figure"), pct(cpu.percent, 1));
  setText($("cpu-load"), cpu.load_avg ? `load ${cpu.load_avg.map((v) => Number(v).toFixed(2)).join(" · ")}` : "");
  renderCores(cpu.per_core);
  setText($("memory-figure"), pct(memory.percent, 1));
  setText($("memory-detail"), `${bytes(memory.used)} of ${bytes(memory.total)}`);
  setText($("memory-used"), `${bytes(memory.used)} used`);
  setText($("memory-free"), `${bytes(Math.max(0, memory.total - memory.used))} available of ${bytes(memory.total)}`);
  fillBar($("memory-bar"), memory.percent);
  setText($("disk-figure"), pct(disk.percent, 1));
  renderDisks(snapshot);
  setText($("net-sent"), rate(network.sent_per_s));
  setText($("net-recv"), rate(network.recv_per_s));
  setText($("net-totals"), `Since boot: ${bytes(network.bytes_sent)} sent, ${bytes(network.bytes_recv)} received`);

  const gpus = snapshot.gpu || [];
  renderGpus(gpus);
  if (gpus.length) {
    const util = Math.max(...gpus.map((g) => g.utilization_percent || 0));
    const temp = Math.max(...gpus.map((g) => g.temperature_c || 0));
    setText($("gpu-figure"), `${pct(util)} · ${Math.round(temp)} °C${gpus.length > 1 ? ` (busiest of ${gpus.length})` : ""}`);
    stripSet("gpu", util, pct(util));
  } else {
    setText($("gpu-figure"), "No GPU found");
    stripSet("gpu", "none", "No GPU");
  }

  const backends = (snapshot.llm && snapshot.llm.backends) || (frame.llm && frame.llm.backends) || [];
  renderBackends(backends);
  const up = backends.filter((b) => b.status === "up").length;
  const inFlight = backends.reduce((n, b) => n + (b.in_flight || 0), 0);
  setText($("backends-figure"), backends.length ? `${up} of ${backends.length} up` : "No backends set up");
  setText($("backends-load"), backends.length ? `${inFlight} in flight` : "");

  stripSet("cpu", cpu.percent, pct(cpu.percent));
  stripSet("memory", memory.percent, pct(memory.percent));
  stripSet("disk", disk.percent, pct(disk.percent));
  stripSet("backends", `${up}/${backends.length}`, backends.length ? `${up}/${backends.length} up` : "No backends");
  const strip = root.querySelector('[data-stat="backends"]');
  strip.dataset.state = !backends.length ? "" : up === backends.length ? "ok" : up ? "warn" : "fail";
  setText($("updated-at"), `· updated ${secondsFormat.format(new Date(snapshot.ts))}`);
}
