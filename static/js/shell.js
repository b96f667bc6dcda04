/*
 * The page shell: theme toggle, phone navigation, user menu, dismissible messages, the
 * backends status (polls /healthz), the open alerts badge (polls /monitoring/api/alerts), and
 * the API token copy button, and the confirmation of forms marked data-confirm (confirm.js).
 */

import { initConfirmForms } from "kit/confirm";
import { localTimes } from "kit/time";

const THEME_KEY = "orch-theme";
const HEALTH_INTERVAL_MS = 30_000;
const HEALTH_TIMEOUT_MS = 15_000;

const root = document.documentElement;
const $ = (id) => document.getElementById(id);

/* ---------- Theme ---------- */

const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

function storedTheme() {
  try {
    const value = window.localStorage.getItem(THEME_KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
}

function systemTheme() {
  return darkQuery && darkQuery.matches ? "dark" : "light";
}

function applyTheme(theme) {
  root.dataset.theme = theme;
  const toggle = $("theme-toggle");
  if (toggle) {
    toggle.setAttribute("aria-pressed", String(theme === "dark"));
    toggle.title = theme === "dark" ? "Switch to light mode" : "Switch to dark mode";
  }
}

function initTheme() {
  applyTheme(storedTheme() || systemTheme());
  const toggle = $("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const next = root.dataset.theme === "dark" ? "light" : "dark";
      try {
        window.localStorage.setItem(THEME_KEY, next);
        // The Django admin keeps its own choice under "theme" (auto/light/dark): the same choice there too.
        window.localStorage.setItem("theme", next);
      } catch {
        /* storage blocked: the choice lasts for this page only */
      }
      applyTheme(next);
    });
  }
  if (darkQuery) {
    const follow = () => {
      if (!storedTheme()) applyTheme(systemTheme());
    };
    if (darkQuery.addEventListener) darkQuery.addEventListener("change", follow);
    else if (darkQuery.addListener) darkQuery.addListener(follow);
  }
  // Another tab changed the theme.
  window.addEventListener("storage", (event) => {
    if (event.key === THEME_KEY) applyTheme(storedTheme() || systemTheme());
  });
}

/* ---------- Phone navigation ---------- */

function initNav() {
  const toggle = $("nav-toggle");
  const nav = toggle && $(toggle.getAttribute("aria-controls"));
  if (!toggle || !nav) return;

  const setOpen = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
  };
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      toggle.focus();
    }
  });
  nav.addEventListener("click", (event) => {
    if (event.target.closest("a")) setOpen(false);
  });
  const wide = window.matchMedia ? window.matchMedia("(min-width: 768px)") : null;
  if (wide) {
    const close = () => {
      if (wide.matches) setOpen(false);
    };
    if (wide.addEventListener) wide.addEventListener("change", close);
    else if (wide.addListener) wide.addListener(close);
  }
}

/* ---------- User menu (<details>): close on outside click and Escape ---------- */

function initUserMenu() {
  const menus = document.querySelectorAll("details.user-menu");
  if (!menus.length) return;
  document.addEventListener("click", (event) => {
    menus.forEach((menu) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    menus.forEach((menu) => {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary")?.focus();
      }
    });
  });
}

/* ---------- Messages ---------- */

function initMessages() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss='alert']");
    if (!button) return;
    const alert = button.closest(".alert");
    if (!alert) return;
    const container = alert.parentElement;
    const next = alert.nextElementSibling || alert.previousElementSibling;
    alert.remove();
    if (next) next.querySelector("[data-dismiss='alert']")?.focus();
    else {
      if (container && container.classList.contains("messages") && !container.children.length) container.remove();
      $("main")?.focus();
    }
  });
}

/* ---------- Health: header indicator + home page status card ---------- */

const CHECK_LABELS = { database: "Database", redis: "Redis", worker: "Task worker" };

function summarize(data) {
  const backends = Array.isArray(data.backends) ? data.backends : [];
  const total = backends.length;
  const up = Number.isFinite(data.backends_up)
    ? data.backends_up
    : backends.filter((b) => b && b.status === "up").length;
  const checks = data.checks && typeof data.checks === "object" ? data.checks : {};
  const coreDown = Object.keys(checks).filter((name) => !checks[name] || checks[name].status !== "up");
  let state = "ok";
  if (coreDown.length || data.status === "fail" || up === 0) state = "fail";
  else if (up < total) state = "warn";
  return { backends, total, up, checks, coreDown, state };
}

function describe(summary) {
  if (summary.coreDown.length) {
    return `core service down: ${summary.coreDown.map((n) => CHECK_LABELS[n] || n).join(", ")}`;
  }
  if (summary.total === 0) return "no backends configured";
  if (summary.up === 0) return "no backend is up";
  if (summary.up < summary.total) return "some backends are down";
  return "all systems up";
}

function formatMs(ms) {
  if (typeof ms !== "number") return "";
  if (ms < 1) return "<1 ms";
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

function checkDetail(name, check) {
  if (!check) return "";
  if (check.status !== "up") return check.error || "Not responding";
  const parts = [];
  if (name === "database" && check.vendor) parts.push(check.vendor);
  if (name === "redis") {
    if (check.version) parts.push(`v${check.version}`);
    if (check.embedded) parts.push("embedded");
  }
  if (name === "worker") parts.push("Celery");
  const ms = formatMs(check.ms);
  if (ms) parts.push(ms);
  return parts.join(" · ");
}

function backendDetail(backend) {
  if (backend.status !== "up") return backend.error || "Not responding";
  const parts = [];
  if (backend.kind) parts.push(backend.kind);
  if (Array.isArray(backend.models)) {
    parts.push(`${backend.models.length} model${backend.models.length === 1 ? "" : "s"}`);
  }
  const ms = formatMs(backend.ms);
  if (ms) parts.push(ms);
  return parts.join(" · ");
}

function setText(el, text) {
  // Only touch the DOM on change, so live regions do not re-announce every poll.
  if (el && el.textContent !== text) el.textContent = text;
}

function renderIndicator(el, summary, error) {
  const count = el.querySelector("[data-status-count]");
  const label = el.querySelector(".backend-status-label");
  const hidden = el.querySelector("[data-status-summary]");
  if (error) {
    el.dataset.state = "unknown";
    setText(label, "Status");
    setText(count, "unavailable");
    setText(hidden, "");
    el.title = `Could not read the health report: ${error}`;
    return;
  }
  el.dataset.state = summary.state;
  setText(label, "Backends");
  setText(count, `${summary.up}/${summary.total}`);
  setText(hidden, `, ${describe(summary)}`);
  const lines = ["LLM backends:"];
  if (!summary.backends.length) lines.push("  none configured");
  summary.backends.forEach((b) => {
    lines.push(`  ${b.status === "up" ? "●" : "○"} ${b.name}${b.kind ? ` (${b.kind})` : ""}: ${b.status}`);
  });
  lines.push("Core:");
  Object.keys(summary.checks).forEach((name) => {
    const status = summary.checks[name] ? summary.checks[name].status : "down";
    lines.push(`  ${status === "up" ? "●" : "○"} ${CHECK_LABELS[name] || name}: ${status}`);
  });
  el.title = lines.join("\n");
}

function makeRow(name, state, detail) {
  const li = document.createElement("li");
  li.className = "health-item";
  li.dataset.state = state;
  const dot = document.createElement("span");
  dot.className = "status-dot";
  dot.setAttribute("aria-hidden", "true");
  const label = document.createElement("span");
  label.className = "health-name";
  label.textContent = name;
  const badge = document.createElement("span");
  badge.className = "badge health-badge";
  badge.dataset.healthBadge = "";
  badge.textContent = state === "ok" ? "Up" : state === "fail" ? "Down" : "Unknown";
  const info = document.createElement("span");
  info.className = "health-detail";
  info.dataset.healthDetail = "";
  info.textContent = detail;
  li.append(dot, label, badge, info);
  return li;
}

function renderCard(card, summary, error) {
  card.querySelectorAll("[data-health-check]").forEach((row) => {
    const name = row.dataset.healthCheck;
    const check = summary ? summary.checks[name] : null;
    const state = error || !check ? "unknown" : check.status === "up" ? "ok" : "fail";
    row.dataset.state = state;
    setText(row.querySelector("[data-health-badge]"), state === "ok" ? "Up" : state === "fail" ? "Down" : "Unknown");
    setText(row.querySelector("[data-health-detail]"), error ? "" : checkDetail(name, check));
  });

  const list = card.querySelector("[data-health-backends]");
  if (list) {
    if (error) {
      list.querySelectorAll(".health-item").forEach((row) => {
        row.dataset.state = "unknown";
        setText(row.querySelector("[data-health-badge]"), "Unknown");
      });
    } else {
      const rows = summary.backends.map((b) => makeRow(b.name, b.status === "up" ? "ok" : "fail", backendDetail(b)));
      if (!rows.length) {
        const empty = document.createElement("li");
        empty.className = "health-empty";
        empty.textContent = "No LLM backend is configured (LLM_BACKENDS).";
        rows.push(empty);
      }
      list.replaceChildren(...rows);
    }
  }

  const overall = card.querySelector("[data-health-overall]");
  if (overall) {
    const state = error ? "unknown" : summary.state;
    overall.dataset.state = state;
    const text = error
      ? "Unavailable"
      : summary.coreDown.length
        ? "Core service down"
        : state === "ok"
          ? "All systems up"
          : state === "warn"
            ? "Degraded"
            : summary.total === 0
              ? "No backends"
              : "Backends down";
    setText(overall, text);
  }
  const updated = card.querySelector("[data-health-updated]");
  if (updated) {
    const time = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    setText(updated, error ? `Last attempt ${time}: ${error}` : `Updated ${time}`);
  }
}

async function fetchHealth(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), HEALTH_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
    let data = null;
    try {
      data = await response.json(); // 503 still carries the report
    } catch {
      data = null;
    }
    if (!data || typeof data !== "object" || !data.checks) throw new Error(`HTTP ${response.status}`);
    return data;
  } catch (error) {
    if (error && error.name === "AbortError") throw new Error("timed out");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function initHealth() {
  const indicator = $("backend-status");
  const card = $("system-health");
  if (!indicator && !card) return;
  const url = (indicator && indicator.dataset.healthUrl) || (card && card.dataset.healthUrl) || "/healthz";
  let timer = null;
  let running = false;
  let lastRun = 0;

  async function tick() {
    clearTimeout(timer);
    if (running) return;
    if (document.hidden) {
      timer = setTimeout(tick, HEALTH_INTERVAL_MS);
      return;
    }
    running = true;
    lastRun = Date.now();
    try {
      const summary = summarize(await fetchHealth(url));
      if (indicator) renderIndicator(indicator, summary, null);
      if (card) renderCard(card, summary, null);
    } catch (error) {
      const message = (error && error.message) || "network error";
      if (indicator) renderIndicator(indicator, null, message);
      if (card) renderCard(card, null, message);
    } finally {
      running = false;
      timer = setTimeout(tick, HEALTH_INTERVAL_MS);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && Date.now() - lastRun >= HEALTH_INTERVAL_MS) tick();
  });
  card?.querySelector("[data-health-refresh]")?.addEventListener("click", () => tick());
  tick();
}

/* ---------- Open monitoring alerts: header badge ---------- */

const ALERTS_INTERVAL_MS = 15_000;

function renderAlertBadge(link, openCount, alerts) {
  const count = Number(openCount) || 0;
  link.hidden = count === 0;
  const text = `${count} alert${count === 1 ? "" : "s"}`;
  setText(link.querySelector("[data-alert-count]"), text);
  link.setAttribute("aria-label", `${text} open: view them on the Monitoring page`);
  const messages = (alerts || []).map((a) => `• ${a.message}`);
  if (count > messages.length) messages.push(`… and ${count - messages.length} more`);
  link.title = messages.length ? `Open alerts:\n${messages.join("\n")}` : "";
}

function initAlerts() {
  const link = $("header-alerts");
  if (!link) return;
  const url = link.dataset.alertsUrl || "/monitoring/api/alerts";
  let timer = null;
  let running = false;
  let lastRun = 0;

  async function tick() {
    clearTimeout(timer);
    if (running) return;
    if (document.hidden) {
      timer = setTimeout(tick, ALERTS_INTERVAL_MS);
      return;
    }
    running = true;
    lastRun = Date.now();
    let stop = false;
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401 || response.status === 403) stop = true; // signed out: nothing to show
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      renderAlertBadge(link, data.open_count, data.alerts);
    } catch {
      /* keep what is shown; the next poll tries again */
    } finally {
      running = false;
      if (!stop) timer = setTimeout(tick, ALERTS_INTERVAL_MS);
    }
  }

  // The monitoring page hears of alerts live and passes them on at once.
  document.addEventListener("orch:alerts", (event) => {
    if (event.detail) renderAlertBadge(link, event.detail.open_count, event.detail.alerts);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && Date.now() - lastRun >= ALERTS_INTERVAL_MS) tick();
  });
  tick();
}

/* ---------- API token: copy once ---------- */

function initCopyToken() {
  const button = $("copy-token");
  const input = $("new-token");
  if (!button || !input) return;
  const label = button.querySelector(".btn-label") || button;
  const feedback = $("copy-feedback");
  let reset = null;

  input.addEventListener("focus", () => input.select());
  button.addEventListener("click", async () => {
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(input.value);
        copied = true;
      } catch {
        copied = false;
      }
    }
    if (!copied) {
      input.focus();
      input.select();
      input.setSelectionRange(0, input.value.length);
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
    }
    clearTimeout(reset);
    button.classList.toggle("is-copied", copied);
    label.textContent = copied ? "Copied" : "Copy";
    if (feedback) {
      feedback.textContent = copied
        ? "Token copied to the clipboard."
        : "The token is selected: press Ctrl+C (⌘C on a Mac) to copy it.";
    }
    reset = setTimeout(() => {
      button.classList.remove("is-copied");
      label.textContent = "Copy";
    }, 2500);
  });
}

initTheme();
initNav();
initUserMenu();
initMessages();
initHealth();
initAlerts();
initCopyToken();
initConfirmForms();
localTimes();
