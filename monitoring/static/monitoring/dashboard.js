/*
 * The monitoring dashboard: live figures over /ws (`monitoring:subscribe`), history from
 * /monitoring/api/history, a host switch, and the alerts. This module wires the page; page.js holds its
 * state and formats, charts.js draws the charts, figures.js the figures in text.
 */
import { getSocket } from "kit/ws";
import { el, setText } from "kit/dom";
import { chartInit, drawCharts, rangeDescription } from "./charts.js";
import { gpuVisibility, renderNow, stripSet } from "./figures.js";
import {
  $, duration, HISTORY_REFRESH_MS, hostSelect, INTERVAL_S, LIVE_POINTS, liveAdd, pointFrom, RANGE_MS, RANGE_TEXT,
  rangeButtons, RESOLUTION_TEXT, root, state, THIS_HOST, urls, when,
} from "./page.js";

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

function liveStart() {
  const ws = getSocket();
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
