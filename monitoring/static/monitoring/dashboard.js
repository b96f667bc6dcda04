/*
 * The monitoring dashboard: live figures over /ws (`monitoring:subscribe`), history from
 * /monitoring/api/history, a host switch, and the alerts. Chart.js is the vendored UMD global.
 *
 * Live snapshots and history rows are both turned into one point shape (the history API's:
 * {ts, cpu, memory, disk, sent_per_s, recv_per_s, gpu_util, gpu_memory, gpu_temperature, backends}),
 * so the charts draw the same way in every range. The figures in text (card headers, the strip)
 * always show the latest live snapshot, whatever range the charts show.
 */

const root = document.getElementById("monitoring");
const $ = (id) => document.getElementById(id);
const ChartJS = window.Chart;

const INTERVAL_S = Number(root.dataset.intervalS) || 10;
const THIS_HOST = root.dataset.thisHost || "";
const LIVE_POINTS = 60;
const HISTORY_REFRESH_MS = 60_000;
const STALE_AFTER_MS = Math.max(30_000, INTERVAL_S * 3000);
const RANGE_MS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };
const RANGE_TEXT = { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days" };
const RESOLUTION_TEXT = { 0: "raw samples", 60: "1-minute averages", 3600: "1-hour averages" };
// The strip is a live region: a figure moves only when it has moved this much, so a screen
// reader hears real changes, not every tick's jitter (the card headers carry exact figures).
const STRIP_STEP = { cpu: 3, gpu: 3, memory: 1, disk: 1 };

const urls = {
  ws: root.dataset.wsModule || "/static/js/ws.js",
  history: root.dataset.historyUrl || "/monitoring/api/history",
  alerts: root.dataset.alertsUrl || "/monitoring/api/alerts",
};

const hostSelect = $("host-select");
const rangeButtons = [...root.querySelectorAll("[data-range]")];

const state = {
  range: "live",
  host: hostSelect.value || THIS_HOST,
  latest: null, // the last monitoring:metrics frame
  live: new Map(), // host → recent points, oldest first
  history: null, // the last /api/history answer for the current range and host
  historyToken: 0,
  historyTimer: null,
  alerts: [],
  openIds: null,
  strip: {},
};

/* ---------- Formatting ---------- */

const timeFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
const secondsFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayFormat = new Intl.DateTimeFormat([], { weekday: "short", day: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat([], {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

function pct(value, digits = 0) {
  return value == null || Number.isNaN(value) ? "—" : `${Number(value).toFixed(digits)}%`;
}

function bytes(value, digits = 1) {
  if (value == null) return "—";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let n = Number(value);
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : digits)} ${units[i]}`;
}

const rate = (value) => (value == null ? "—" : `${bytes(value)}/s`);

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) {
    const h = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  return `${Math.round(s / 86400)} days`;
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

function setText(el, text) {
  // Only touch the DOM on change: the figures sit in a live region.
  if (el && el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el && el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

/* ---------- Points ---------- */

function pointFrom(snapshot) {
  const gpus = snapshot.gpu || [];
  const most = (key) => (gpus.length ? Math.max(...gpus.map((g) => Number(g[key]) || 0)) : null);
  const backends = {};
  for (const b of (snapshot.llm && snapshot.llm.backends) || []) {
    backends[b.name] = { up: b.status === "up" ? 1 : 0, in_flight: b.in_flight, latency_ms: b.latency_ms };
  }
  return {
    ts: snapshot.ts,
    cpu: snapshot.cpu.percent,
    memory: snapshot.memory.percent,
    disk: snapshot.disk.percent,
    sent_per_s: snapshot.network.sent_per_s,
    recv_per_s: snapshot.network.recv_per_s,
    gpu_util: most("utilization_percent"),
    gpu_memory: most("memory_percent"),
    gpu_temperature: most("temperature_c"),
    backends,
  };
}

function snapshotFor(host) {
  const frame = state.latest;
  if (!frame) return null;
  if (host === frame.host) return frame;
  return (frame.hosts && frame.hosts[host]) || null;
}

function liveAdd(host, points) {
  const list = state.live.get(host) || [];
  for (const point of points) {
    if (list.length && point.ts <= list[list.length - 1].ts) continue; // a host that has not sampled again
    list.push(point);
  }
  list.splice(0, Math.max(0, list.length - LIVE_POINTS));
  state.live.set(host, list);
}

function currentPoints() {
  if (state.range === "live") return state.live.get(state.host) || [];
  return state.history && state.history.host === state.host && state.history.range === state.range
    ? state.history.points
    : [];
}

/* ---------- Charts ---------- */

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function palette() {
  return {
    series: [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--chart-${i}`, "#4f46e5")),
    grid: cssVar("--chart-grid", "#e2e5ea"),
    text: cssVar("--chart-text", "#59606e"),
    tooltipBg: cssVar("--chart-tooltip-bg", "#16181d"),
    tooltipText: cssVar("--chart-tooltip-text", "#ffffff"),
    font: cssVar("--font-sans", "system-ui, sans-serif"),
  };
}

function alpha(color, a) {
  const hex = color.replace("#", "");
  if (/^[0-9a-f]{6}$/i.test(hex)) {
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return `rgb(${r} ${g} ${b} / ${a})`;
  }
  return color;
}

// Tick marks on round local times: every 2 min live, 10 min for an hour, 4 h for a day, days for a week.
function timeTicks(min, max) {
  const span = max - min;
  const step =
    span <= 20 * 60_000 ? 2 * 60_000
    : span <= 90 * 60_000 ? 10 * 60_000
    : span <= 30 * 3_600_000 ? 4 * 3_600_000
    : 86_400_000;
  const offset = new Date(min).getTimezoneOffset() * 60_000;
  const ticks = [];
  for (let t = Math.ceil((min - offset) / step) * step + offset; t <= max; t += step) ticks.push({ value: t });
  return ticks;
}

function tickLabel(value, span) {
  const date = new Date(value);
  if (span > 30 * 3_600_000) return dayFormat.format(date);
  return timeFormat.format(date);
}

const percentTick = (v) => `${v}%`;

/*
 * Each chart: its series (key into a point, label, colour index, formatter) and its y axis.
 * The backends chart's series are made per backend at draw time.
 */
const CHARTS = {
  cpu: { canvas: "chart-cpu", name: "CPU usage", max: 100, tick: percentTick, series: [{ key: "cpu", label: "CPU", color: 0, format: pct }] },
  memory: { canvas: "chart-memory", name: "Memory usage", max: 100, tick: percentTick, series: [{ key: "memory", label: "Memory", color: 1, format: pct }] },
  disk: { canvas: "chart-disk", name: "Disk usage", max: 100, tick: percentTick, series: [{ key: "disk", label: "Disk", color: 2, format: pct }] },
  network: {
    canvas: "chart-network", name: "Network traffic", tick: (v) => rate(v), legend: true, suggestedMax: 1000,
    series: [
      { key: "sent_per_s", label: "Sent", color: 0, format: rate },
      { key: "recv_per_s", label: "Received", color: 3, format: rate },
    ],
  },
  gpu: {
    canvas: "chart-gpu", name: "GPU", suggestedMax: 100, legend: true, tick: (v) => `${v}`,
    series: [
      { key: "gpu_util", label: "Utilisation %", color: 0, format: pct },
      { key: "gpu_memory", label: "Memory %", color: 1, format: pct },
      { key: "gpu_temperature", label: "Temperature °C", color: 4, format: (v) => (v == null ? "—" : `${Math.round(v)} °C`) },
    ],
  },
  backends: { canvas: "chart-backends", name: "LLM backends", legend: true, tick: (v) => `${v}`, series: [], y2: true },
};

const charts = {};

function chartOptions(def) {
  const scales = {
    x: {
      type: "linear",
      afterBuildTicks: (scale) => {
        const ticks = timeTicks(scale.min, scale.max);
        const room = Math.max(2, Math.floor(scale.chart.width / 90)); // a label is about 70 px wide
        const every = Math.ceil(ticks.length / room);
        scale.ticks = ticks.filter((_, i) => i % every === 0);
      },
      ticks: {
        maxRotation: 0,
        autoSkipPadding: 12,
        callback(value) {
          return tickLabel(value, this.max - this.min); // `this` is the scale
        },
      },
      grid: { display: false },
      border: { display: false },
    },
    y: {
      min: 0,
      max: def.max,
      suggestedMax: def.suggestedMax,
      beginAtZero: true,
      ticks: { maxTicksLimit: 5, callback: def.tick },
      grid: { color: "transparent" },
      border: { display: false },
    },
  };
  if (def.y2) {
    scales.y.title = { display: true, text: "in flight" };
    scales.y.suggestedMax = 2;
    scales.y.ticks.precision = 0;
    scales.y2 = {
      position: "right",
      beginAtZero: true,
      title: { display: true, text: "latency ms" },
      ticks: { maxTicksLimit: 5 },
      grid: { display: false },
      border: { display: false },
    };
  }
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    spanGaps: false,
    interaction: { mode: "nearest", axis: "x", intersect: false },
    elements: { point: { radius: isolatedRadius, hoverRadius: 3, hitRadius: 8 }, line: { borderWidth: 2, tension: 0.25 } },
    plugins: {
      legend: {
        display: Boolean(def.legend),
        position: "bottom",
        align: "start",
        labels: { boxWidth: 10, boxHeight: 10, padding: 12 },
      },
      tooltip: {
        displayColors: true,
        callbacks: {
          title: (items) => (items.length ? dateTimeFormatFull(items[0].parsed.x) : ""),
          label: (item) => `${item.dataset.label}: ${(item.dataset.format || String)(item.parsed.y)}`,
        },
      },
    },
    scales,
  };
}

// A sample with no neighbour (the first live one, or one between gaps) draws no line: show a dot.
function isolatedRadius(ctx) {
  const data = ctx.dataset.data;
  const i = ctx.dataIndex;
  if (!data || !data[i] || data[i].y == null) return 0;
  const alone = (j) => j < 0 || j >= data.length || data[j].y == null;
  return alone(i - 1) && alone(i + 1) ? 2.5 : 0;
}

function dateTimeFormatFull(ms) {
  const date = new Date(ms);
  return state.range === "live" || state.range === "1h"
    ? secondsFormat.format(date)
    : dateTimeFormat.format(date);
}

function themeChart(chart) {
  const p = palette();
  const o = chart.options;
  o.font = { family: p.font };
  o.color = p.text;
  o.plugins.legend.labels.color = p.text;
  o.plugins.tooltip.backgroundColor = p.tooltipBg;
  o.plugins.tooltip.titleColor = p.tooltipText;
  o.plugins.tooltip.bodyColor = p.tooltipText;
  for (const axis of Object.values(o.scales)) {
    axis.ticks.color = p.text;
    axis.ticks.font = { family: p.font, size: 11 };
    if (axis.title) axis.title.color = p.text;
    if (axis.grid && axis.grid.display !== false) axis.grid.color = p.grid;
  }
  for (const ds of chart.data.datasets) {
    const color = p.series[ds.colorIndex % p.series.length];
    ds.borderColor = color;
    ds.backgroundColor = ds.fill ? alpha(color, 0.14) : color;
    ds.pointBackgroundColor = color;
  }
}

function chartInit() {
  if (!ChartJS) return;
  for (const [key, def] of Object.entries(CHARTS)) {
    const canvas = $(def.canvas);
    if (!canvas) continue;
    const chart = new ChartJS(canvas, { type: "line", data: { datasets: [] }, options: chartOptions(def) });
    themeChart(chart);
    chart.update("none");
    charts[key] = chart;
  }
  // Theme changes (the toggle, or the system's) reach the charts through <html data-theme>.
  new MutationObserver(() => {
    for (const chart of Object.values(charts)) {
      themeChart(chart);
      chart.update("none");
    }
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
}

function stepMs() {
  if (state.range === "live") return INTERVAL_S * 1000;
  const resolution = (state.history && state.history.resolution_s) || 0;
  return Math.max(resolution, INTERVAL_S) * 1000;
}

function medianSpacing(points) {
  if (points.length < 3) return 0;
  const diffs = [];
  for (let i = 1; i < points.length; i += 1) diffs.push(points[i].ts - points[i - 1].ts);
  diffs.sort((a, b) => a - b);
  return diffs[Math.floor(diffs.length / 2)];
}

// A null where samples are missing, so a worker that was down shows as a gap, not a slope.
function withGaps(points, get) {
  const gap = Math.max(stepMs(), medianSpacing(points)) * 3;
  const data = [];
  let last = null;
  for (const point of points) {
    if (last !== null && point.ts - last > gap) data.push({ x: last + 1, y: null });
    const y = get(point);
    data.push({ x: point.ts, y: y == null ? null : Number(y) });
    last = point.ts;
  }
  return data;
}

function xBounds(points) {
  if (state.range === "live") {
    const last = points.length ? points[points.length - 1].ts : (state.latest && state.latest.ts) || Date.now();
    return { min: last - (LIVE_POINTS - 1) * INTERVAL_S * 1000, max: last };
  }
  const max = Date.now();
  return { min: max - RANGE_MS[state.range], max };
}

function backendSeries(points) {
  const names = new Set();
  for (const point of points) for (const name of Object.keys(point.backends || {})) names.add(name);
  const series = [];
  [...names].sort().forEach((name, i) => {
    series.push({
      key: (p) => (p.backends && p.backends[name] ? p.backends[name].in_flight : null),
      label: `${name} in flight`, color: i * 2, format: (v) => (v == null ? "—" : `${Math.round(v * 10) / 10}`),
      id: `${name}:in_flight`, stepped: true,
    });
    series.push({
      key: (p) => (p.backends && p.backends[name] ? p.backends[name].latency_ms : null),
      label: `${name} latency`, color: i * 2 + 1, format: (v) => (v == null ? "—" : `${Math.round(v)} ms`),
      id: `${name}:latency`, axis: "y2", dash: true,
    });
  });
  return series;
}

function rangeDescription() {
  return state.range === "live" ? `last ${Math.round(((LIVE_POINTS - 1) * INTERVAL_S) / 60)} minutes` : RANGE_TEXT[state.range];
}

function drawChart(key, points, figure) {
  const chart = charts[key];
  if (!chart) return;
  const def = CHARTS[key];
  const series = key === "backends" ? backendSeries(points) : def.series;
  const ids = series.map((s) => s.id || s.key).join("|");
  if (chart.$seriesIds !== ids) {
    chart.data.datasets = series.map((s) => ({
      label: s.label,
      data: [],
      colorIndex: s.color,
      format: s.format,
      fill: !def.legend || key === "network" ? "origin" : false,
      yAxisID: s.axis || "y",
      stepped: s.stepped || false,
      borderDash: s.dash ? [5, 4] : [],
    }));
    chart.$seriesIds = ids;
    themeChart(chart);
  }
  series.forEach((s, i) => {
    const get = typeof s.key === "function" ? s.key : (p) => p[s.key];
    const ds = chart.data.datasets[i];
    ds.data = withGaps(points, get);
  });
  const { min, max } = xBounds(points);
  chart.options.scales.x.min = min;
  chart.options.scales.x.max = max;
  chart.update("none");
  chart.canvas.dataset.points = String(points.length);
  const label = `${def.name} chart, ${rangeDescription()}${figure ? `: ${figure}` : ""} (${points.length} points)`;
  setAttr(chart.canvas, "aria-label", label);
}

function drawCharts() {
  const points = currentPoints();
  const last = points.length ? points[points.length - 1] : null;
  const latest = state.range === "live" ? "now" : "latest";
  const fig = (v, f) => (last && v != null ? `${latest} ${f(v)}` : "no data");
  drawChart("cpu", points, fig(last && last.cpu, pct));
  drawChart("memory", points, fig(last && last.memory, pct));
  drawChart("disk", points, fig(last && last.disk, pct));
  drawChart("network", points, last ? `${latest} sent ${rate(last.sent_per_s)}, received ${rate(last.recv_per_s)}` : "no data");
  drawChart("gpu", points, fig(last && last.gpu_util, pct));
  drawChart("backends", points, "");
  gpuVisibility();
}

/* ---------- Figures in text ---------- */

function stripSet(name, value, text) {
  const tile = root.querySelector(`[data-stat="${name}"]`);
  if (!tile) return;
  const shown = state.strip[name];
  const step = STRIP_STEP[name];
  if (step && typeof value === "number" && typeof shown === "number" && Math.abs(value - shown) < step) return;
  state.strip[name] = value;
  setText(tile.querySelector("[data-value]"), text);
}

function usageBar(percent) {
  const bar = el("span", { class: "usage-bar", "aria-hidden": "true" }, el("span", { class: "usage-fill" }));
  fillBar(bar, percent);
  return bar;
}

function fillBar(bar, percent) {
  const fill = bar.firstElementChild;
  const p = Math.max(0, Math.min(100, Number(percent) || 0));
  fill.style.width = `${p}%`;
  bar.dataset.level = p >= 90 ? "high" : p >= 75 ? "mid" : "low";
}

function renderCores(perCore) {
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

function renderDisks(snapshot) {
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

function renderGpus(gpus) {
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

function gpuVisibility() {
  const snapshot = snapshotFor(state.host);
  const liveGpus = snapshot ? (snapshot.gpu || []).length : 0;
  const historyGpus = state.range !== "live" && currentPoints().some((p) => p.gpu_util != null);
  const none = Boolean(snapshot || state.range !== "live") && !liveGpus && !historyGpus;
  $("gpu-none").hidden = !none;
  $("gpu-present").hidden = none;
}

const STATUS_BADGE = { up: "badge-success", down: "badge-danger" };
const CIRCUIT_BADGE = { closed: "badge-success", open: "badge-danger", half_open: "badge-warning" };

function serverText(server) {
  if (!server) return "—";
  const parts = [];
  if (server.predicted_tokens_per_s != null) parts.push(`${server.predicted_tokens_per_s} tok/s`);
  if (server.kv_cache_usage_ratio != null) parts.push(`KV ${pct(server.kv_cache_usage_ratio * 100)}`);
  if (server.requests_deferred) parts.push(`${server.requests_deferred} waiting`);
  return parts.join(" · ") || "—";
}

function renderBackends(backends) {
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
      const status = el("span", { class: `badge ${STATUS_BADGE[b.status] || "badge-neutral"}`, text: b.status });
      if (b.error) status.title = b.error;
      const circuit = el("span", {
        class: `badge ${CIRCUIT_BADGE[b.circuit] || "badge-neutral"}`,
        text: String(b.circuit || "—").replace("_", "-"),
      });
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

function renderNow() {
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

/* ---------- Alerts ---------- */

function renderAlerts() {
  const body = $("alert-rows");
  const list = state.alerts;
  const rows = list.length
    ? list.map((a) =>
        el("tr", { class: a.open ? "is-open" : null, "data-alert-id": String(a.id) },
          el("td", { "data-label": "Alert", class: "cell-strong" }, a.message),
          el("td", { "data-label": "Host" }, a.host || "—"),
          el("td", { "data-label": "Opened" }, el("time", { datetime: a.opened_at, text: when(a.opened_at) })),
          el("td", { "data-label": "Resolved" },
            a.open ? el("span", { class: "badge badge-danger", text: "open" }) : el("time", { datetime: a.resolved_at, text: when(a.resolved_at) })),
          el("td", { "data-label": "Duration" }, duration(a.duration_s)),
        ),
      )
    : [el("tr", { class: "alerts-empty" }, el("td", { colspan: "5", class: "muted", text: "No alert so far: every rule has held." }))];
  const signature = JSON.stringify(rows.map((r) => r.textContent));
  if (body.dataset.signature !== signature) {
    body.dataset.signature = signature;
    body.replaceChildren(...rows);
  }
  const open = list.filter((a) => a.open).length;
  const badge = $("alerts-open-badge");
  setText(badge, open ? `${open} open` : "All clear");
  badge.className = `badge ${open ? "badge-danger" : "badge-success"}`;
  stripSet("alerts", open, open ? `${open} open` : "All clear");
  root.querySelector('[data-stat="alerts"]').dataset.state = open ? "fail" : "ok";
}

function openIdsOf(list) {
  return list.filter((a) => a.open !== false).map((a) => a.id).sort((a, b) => a - b).join(",");
}

async function alertsLoad() {
  try {
    const response = await fetch(`${urls.alerts}?all=1`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    state.alerts = data.alerts || [];
    state.openIds = openIdsOf(state.alerts);
    renderAlerts();
    document.dispatchEvent(new CustomEvent("orch:alerts", { detail: { open_count: data.open_count, alerts: state.alerts.filter((a) => a.open) } }));
  } catch (error) {
    console.warn("monitoring: could not load the alerts", error);
  }
}

function alertsFromLive(open) {
  const ids = openIdsOf(open);
  if (ids !== state.openIds) {
    state.openIds = ids;
    alertsLoad(); // one opened or resolved: the recent list (with resolve times) comes from the API
    return;
  }
  const byId = new Map(open.map((a) => [a.id, a]));
  state.alerts = state.alerts.map((a) => (byId.has(a.id) ? { ...a, ...byId.get(a.id) } : a));
  renderAlerts();
}

/* ---------- Range, host, history ---------- */

function setRangeInfo(text) {
  setText($("range-info"), text);
}

function liveRangeInfo() {
  const n = (state.live.get(state.host) || []).length;
  setRangeInfo(`Live, ${rangeDescription()} · ${n} point${n === 1 ? "" : "s"}, one every ${INTERVAL_S} s`);
}

async function historyLoad() {
  const token = ++state.historyToken;
  const { range, host } = state;
  clearTimeout(state.historyTimer);
  root.classList.add("is-loading");
  if (!state.history || state.history.range !== range || state.history.host !== host) setRangeInfo("Loading the history…");
  try {
    const query = new URLSearchParams({ host, range });
    const response = await fetch(`${urls.history}?${query}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    if (token !== state.historyToken) return;
    state.history = data;
    const n = data.points.length;
    const resolution = RESOLUTION_TEXT[data.resolution_s] || `${data.resolution_s} s averages`;
    setRangeInfo(n ? `${RANGE_TEXT[range][0].toUpperCase()}${RANGE_TEXT[range].slice(1)} · ${n} point${n === 1 ? "" : "s"}, ${resolution}`
      : `No history for ${host} in the ${RANGE_TEXT[range]} (0 points)`);
    drawCharts();
  } catch (error) {
    if (token !== state.historyToken) return;
    setRangeInfo(`Could not load the history: ${error.message || error}`);
  } finally {
    if (token === state.historyToken) {
      root.classList.remove("is-loading");
      state.historyTimer = setTimeout(() => {
        if (state.range !== "live" && !document.hidden) historyLoad();
        else if (state.range !== "live") state.historyTimer = null;
      }, HISTORY_REFRESH_MS);
    }
  }
}

// The live charts start with the last few stored samples, so they are not empty for ten minutes.
async function livePrefill(host) {
  try {
    const query = new URLSearchParams({ host, range: "1h" });
    const response = await fetch(`${urls.history}?${query}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    const cutoff = Date.now() - LIVE_POINTS * INTERVAL_S * 1000;
    const older = data.points.filter((p) => p.ts >= cutoff);
    const current = state.live.get(host) || [];
    const first = current.length ? current[0].ts : Infinity;
    state.live.set(host, []);
    liveAdd(host, [...older.filter((p) => p.ts < first), ...current]);
    if (state.range === "live" && state.host === host) {
      drawCharts();
      liveRangeInfo();
    }
  } catch {
    /* the live points come anyway */
  }
}

function urlUpdate() {
  const url = new URL(window.location.href);
  if (state.range === "live") url.searchParams.delete("range");
  else url.searchParams.set("range", state.range);
  if (state.host === THIS_HOST) url.searchParams.delete("host");
  else url.searchParams.set("host", state.host);
  window.history.replaceState(null, "", url);
}

function rangeSet(range) {
  if (!(range === "live" || range in RANGE_MS)) range = "live";
  state.range = range;
  for (const button of rangeButtons) button.setAttribute("aria-pressed", String(button.dataset.range === range));
  root.dataset.range = range;
  urlUpdate();
  if (range === "live") {
    state.historyToken += 1;
    clearTimeout(state.historyTimer);
    root.classList.remove("is-loading");
    liveRangeInfo();
    drawCharts();
  } else {
    historyLoad();
  }
}

function hostOption(host) {
  if (!host || [...hostSelect.options].some((o) => o.value === host)) return;
  const option = el("option", { value: host, text: host === THIS_HOST ? `${host} (this server)` : host });
  const after = [...hostSelect.options].find((o) => o.value.localeCompare(host) > 0);
  hostSelect.insertBefore(option, after || null);
}

function hostSet(host) {
  state.host = host;
  if (hostSelect.value !== host) {
    hostOption(host);
    hostSelect.value = host;
  }
  urlUpdate();
  $("stale-note").hidden = true;
  state.strip = {}; // another host's figures: show them exactly, whatever the last ones were
  renderNow();
  if (state.range === "live") {
    drawCharts();
    liveRangeInfo();
    if ((state.live.get(host) || []).length < LIVE_POINTS) livePrefill(host);
  } else {
    historyLoad();
  }
}

/* ---------- Live ---------- */

function onMetrics(frame) {
  state.latest = frame;
  liveAdd(frame.host, [pointFrom(frame)]);
  hostOption(frame.host);
  for (const [host, snapshot] of Object.entries(frame.hosts || {})) {
    hostOption(host);
    if (snapshot && snapshot.cpu) liveAdd(host, [pointFrom(snapshot)]);
  }
  renderNow();
  if (state.range === "live") {
    drawCharts();
    liveRangeInfo();
  } else {
    gpuVisibility();
  }
  alertsFromLive(frame.alerts || []);
}

const CONN_TEXT = {
  idle: ["unknown", "Connecting…"],
  connecting: ["unknown", "Connecting…"],
  open: ["ok", "Live"],
  reconnecting: ["warn", "Reconnecting… the figures are paused"],
  closed: ["fail", "Disconnected: reload the page to see live figures"],
};

function onStatus(status) {
  const [dataState, text] = CONN_TEXT[status] || CONN_TEXT.idle;
  const line = $("conn-status");
  line.dataset.state = dataState;
  setText(line.querySelector("[data-conn-text]"), text);
}

async function liveStart() {
  let module;
  try {
    module = await import(urls.ws);
  } catch (error) {
    console.error("monitoring: could not load the WebSocket client", error);
    onStatus("closed");
    return;
  }
  const ws = module.getSocket();
  const subscribe = () => ws.call({ type: "monitoring:subscribe" }).catch(() => {
    /* the connection dropped first: onReconnect subscribes again */
  });
  ws.onStatus(onStatus);
  ws.on("monitoring:metrics", onMetrics);
  ws.onReconnect(subscribe);
  ws.connect();
  subscribe();
}

/* ---------- Start ---------- */

function start() {
  chartInit();
  const params = new URLSearchParams(window.location.search);
  const host = params.get("host");
  if (host) {
    hostOption(host);
    hostSelect.value = host;
    state.host = host;
  }
  for (const button of rangeButtons) button.addEventListener("click", () => rangeSet(button.dataset.range));
  hostSelect.addEventListener("change", () => hostSet(hostSelect.value));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.range !== "live" && state.historyTimer === null) historyLoad();
  });
  rangeSet(params.get("range") || "live");
  alertsLoad();
  livePrefill(state.host);
  liveStart();
}

start();
