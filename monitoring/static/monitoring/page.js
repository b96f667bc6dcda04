/*
 * What the dashboard's modules share: the page's elements, settings and state, number and time formats,
 * and the one point shape that live snapshots and history rows are both turned into
 * ({ts, cpu, memory, disk, sent_per_s, recv_per_s, gpu_util, gpu_memory, gpu_temperature, backends}).
 */
export const root = document.getElementById("monitoring");
export const $ = (id) => document.getElementById(id);
export const ChartJS = window.Chart;

export const INTERVAL_S = Number(root.dataset.intervalS) || 10;
export const THIS_HOST = root.dataset.thisHost || "";
export const LIVE_POINTS = 60;
export const HISTORY_REFRESH_MS = 60_000;
export const STALE_AFTER_MS = Math.max(30_000, INTERVAL_S * 3000);
export const RANGE_MS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 };
export const RANGE_TEXT = { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days" };
export const RESOLUTION_TEXT = { 0: "raw samples", 60: "1-minute averages", 3600: "1-hour averages" };
// The strip is a live region: a figure moves only when it has moved this much, so a screen
// reader hears real changes, not every tick's jitter (the card headers carry exact figures).
export const STRIP_STEP = { cpu: 3, gpu: 3, memory: 1, disk: 1 };

export const urls = {
  history: root.dataset.historyUrl || "/monitoring/api/history",
  alerts: root.dataset.alertsUrl || "/monitoring/api/alerts",
};

export const hostSelect = $("host-select");
export const rangeButtons = [...root.querySelectorAll("[data-range]")];

export const state = {
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

export const timeFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit" });
export const secondsFormat = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const dayFormat = new Intl.DateTimeFormat([], { weekday: "short", day: "numeric" });
export const dateTimeFormat = new Intl.DateTimeFormat([], {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

export function pct(value, digits = 0) {
  return value == null || Number.isNaN(value) ? "—" : `${Number(value).toFixed(digits)}%`;
}

export function bytes(value, digits = 1) {
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

export const rate = (value) => (value == null ? "—" : `${bytes(value)}/s`);

export function duration(seconds) {
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

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function setAttr(el, name, value) {
  if (el && el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/* ---------- Points ---------- */

export function pointFrom(snapshot) {
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

export function snapshotFor(host) {
  const frame = state.latest;
  if (!frame) return null;
  if (host === frame.host) return frame;
  return (frame.hosts && frame.hosts[host]) || null;
}

export function liveAdd(host, points) {
  const list = state.live.get(host) || [];
  for (const point of points) {
    if (list.length && point.ts <= list[list.length - 1].ts) continue; // a host that has not sampled again
    list.push(point);
  }
  list.splice(0, Math.max(0, list.length - LIVE_POINTS));
  state.live.set(host, list);
}

export function currentPoints() {
  if (state.range === "live") return state.live.get(state.host) || [];
  return state.history && state.history.host === state.host && state.history.range === state.range
    ? state.history.points
    : [];
}
