/*
 * The charts (Chart.js, the vendored UMD global): one per figure, themed from the CSS variables, drawn
 * the same way in every range, with gaps where samples are missing.
 */
import { gpuVisibility } from "./figures.js";
import {
  $, ChartJS, currentPoints, dateTimeFormat, dayFormat, INTERVAL_S, LIVE_POINTS, pct, RANGE_MS, RANGE_TEXT, rate,
  secondsFormat, setAttr, state, timeFormat,
} from "./page.js";

/* ---------- Charts ---------- */

export function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

export function palette() {
  return {
    series: [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--chart-${i}`, "#4f46e5")),
    grid: cssVar("--chart-grid", "#e2e5ea"),
    text: cssVar("--chart-text", "#59606e"),
    tooltipBg: cssVar("--chart-tooltip-bg", "#16181d"),
    tooltipText: cssVar("--chart-tooltip-text", "#ffffff"),
    font: cssVar("--font-sans", "system-ui, sans-serif"),
  };
}

export function alpha(color, a) {
  const hex = color.replace("#", "");
  if (/^[0-9a-f]{6}$/i.test(hex)) {
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return `rgb(${r} ${g} ${b} / ${a})`;
  }
  return color;
}

// Tick marks on round local times: every 2 min live, 10 min for an hour, 4 h for a day, days for a week.
export function timeTicks(min, max) {
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

export function tickLabel(value, span) {
  const date = new Date(value);
  if (span > 30 * 3_600_000) return dayFormat.format(date);
  return timeFormat.format(date);
}

export const percentTick = (v) => `${v}%`;

/*
 * Each chart: its series (key into a point, label, colour index, formatter) and its y axis.
 * The backends chart's series are made per backend at draw time.
 */
export const CHARTS = {
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

export const charts = {};

export function chartOptions(def) {
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
export function isolatedRadius(ctx) {
  const data = ctx.dataset.data;
  const i = ctx.dataIndex;
  if (!data || !data[i] || data[i].y == null) return 0;
  const alone = (j) => j < 0 || j >= data.length || data[j].y == null;
  return alone(i - 1) && alone(i + 1) ? 2.5 : 0;
}

export function dateTimeFormatFull(ms) {
  const date = new Date(ms);
  return state.range === "live" || state.range === "1h"
    ? secondsFormat.format(date)
    : dateTimeFormat.format(date);
}

export function themeChart(chart) {
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

export function chartInit() {
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

export function stepMs() {
  if (state.range === "live") return INTERVAL_S * 1000;
  const resolution = (state.history && state.history.resolution_s) || 0;
  return Math.max(resolution, INTERVAL_S) * 1000;
}

export function medianSpacing(points) {
  if (points.length < 3) return 0;
  const diffs = [];
  for (let i = 1; i < points.length; i += 1) diffs.push(points[i].ts - points[i - 1].ts);
  diffs.sort((a, b) => a - b);
  return diffs[Math.floor(diffs.length / 2)];
}

// A null where samples are missing, so a worker that was down shows as a gap, not a slope.
export function withGaps(points, get) {
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

export function xBounds(points) {
  if (state.range === "live") {
    const last = points.length ? points[points.length - 1].ts : (state.latest && state.latest.ts) || Date.now();
    return { min: last - (LIVE_POINTS - 1) * INTERVAL_S * 1000, max: last };
  }
  const max = Date.now();
  return { min: max - RANGE_MS[state.range], max };
}

export function backendSeries(points) {
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

export function rangeDescription() {
  return state.range === "live" ? `last ${Math.round(((LIVE_POINTS - 1) * INTERVAL_S) / 60)} minutes` : RANGE_TEXT[state.range];
}

export function drawChart(key, points, figure) {
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

export function drawCharts() {
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
