/*
 * The one WebSocket client every page uses (the /ws protocol: shared/protocol.md).
 * No dependencies.
 *
 *   import { getSocket } from "kit/ws";
 *   const ws = getSocket();                 // one shared connection per page
 *   ws.onStatus((state) => ...);            // "connecting" | "open" | "reconnecting" | "closed"
 *   ws.on("monitoring:metrics", (f) => ...);// frames that no live request claims, by type
 *   ws.onReconnect((welcome) => ...);       // after every welcome except the first: re-issue things
 *   ws.connect();
 *
 *   const req = ws.request({ type: "chat:send", content: "hi" }, { onFrame: (f) => ... });
 *   for await (const frame of req) { ... }  // or: the iterator; ends after the terminal frame
 *   const last = await req.done;            // the terminal frame (never rejects)
 *   const reply = await ws.call({ type: "chat:history", conversation_id: 3 }); // rejects on error
 *
 * A request frame gets a unique `id`; every frame with that id goes to the request until a
 * terminal frame: any `error`, and any type except `chat:started`/`chat:streaming` by default.
 * Frames sent while the socket is down wait in an outbox and go out after the next `welcome`.
 * A request whose frame had gone out when the connection dropped ends with the local frame
 * {type: "ws:disconnected", id}: the server forgets its followers, so re-issue it (onReconnect).
 * Reconnects use exponential backoff with jitter (capped at 10 s); close code 4012 or 1012
 * (server restarting) reconnects after a short delay; 4401 (unauthorized) stops. A ping goes out every 25 s, and a
 * connection that has said nothing for two ping intervals is dropped and reopened.
 */

export const DISCONNECTED = "ws:disconnected";
const NON_TERMINAL = new Set(["chat:started", "chat:streaming", "chat:validating"]);
// "Server restarting: reconnect, then chat:resume". Daphne may send only 1000 and 3000-4999,
// so the server uses 4012; 1012 (the standard code) is honoured too.
const CLOSE_RESTARTING = new Set([1012, 4012]);
const CLOSE_UNAUTHORIZED = 4401;
const OUTBOX_LIMIT = 200;

export function wsUrl(path = "/ws") {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

export function defaultIsTerminal(frame) {
  return frame.type === "error" || frame.type === DISCONNECTED || !NON_TERMINAL.has(frame.type);
}

export class WsError extends Error {
  constructor(frame) {
    super((frame && frame.message) || (frame && frame.type === DISCONNECTED ? "connection lost" : "request failed"));
    this.name = "WsError";
    this.code = frame ? frame.code || (frame.type === DISCONNECTED ? "disconnected" : "") : "";
    this.frame = frame;
  }
}

let idCounter = 0;
const idPrefix = Math.random().toString(36).slice(2, 8);
function nextId() {
  idCounter += 1;
  return `${idPrefix}-${idCounter.toString(36)}`;
}

class Request {
  constructor(socket, frame, { onFrame = null, isTerminal = defaultIsTerminal } = {}) {
    this.socket = socket;
    this.id = frame.id;
    this.frame = frame;
    this.sent = false;
    this.finished = false;
    this.onFrame = onFrame;
    this.isTerminal = isTerminal;
    this.buffer = [];
    this.waiters = [];
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  deliver(frame) {
    if (this.finished) return;
    const terminal = this.isTerminal(frame);
    if (terminal) this.finished = true;
    if (this.onFrame) {
      try {
        this.onFrame(frame, this);
      } catch (error) {
        console.error("ws: request handler failed", error);
      }
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: frame, done: false });
    else this.buffer.push(frame);
    if (terminal) {
      this.socket.requests.delete(this.id);
      this.resolveDone(frame);
    }
  }

  /** Stop listening (the server side is not told; send chat:cancel or an unsubscribe for that). */
  cancel() {
    if (this.finished) return;
    this.finished = true;
    this.socket.requests.delete(this.id);
    this.socket.outbox = this.socket.outbox.filter((f) => f !== this.frame);
    this.resolveDone(null);
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this.buffer.length) return Promise.resolve({ value: this.buffer.shift(), done: false });
        if (this.finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export class Socket {
  constructor({ url = wsUrl(), pingIntervalMs = 25_000, baseDelayMs = 500, maxDelayMs = 10_000 } = {}) {
    this.url = url;
    this.pingIntervalMs = pingIntervalMs;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.ws = null;
    this.state = "idle";
    this.wanted = false;
    this.attempt = 0;
    this.everOpened = false;
    this.welcome = null;
    this.outbox = [];
    this.requests = new Map();
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.reconnectHandlers = new Set();
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.onOnline = () => {
      if (this.wanted && this.state === "reconnecting") this.retryNow();
    };
    this.onVisible = () => {
      if (!document.hidden && this.wanted && this.state === "reconnecting") this.retryNow();
    };
  }

  get isOpen() {
    return this.state === "open";
  }

  /* ----- hooks ----- */

  /** fn(state, detail) now and on every change; returns an unsubscribe function. */
  onStatus(fn) {
    this.statusHandlers.add(fn);
    try {
      fn(this.state, {});
    } catch (error) {
      console.error(error);
    }
    return () => this.statusHandlers.delete(fn);
  }

  /** fn(welcome) after each reconnection (not the first connection). */
  onReconnect(fn) {
    this.reconnectHandlers.add(fn);
    return () => this.reconnectHandlers.delete(fn);
  }

  /** fn(frame) for frames of this type that no live request claims ("welcome", "pong", …; "*" = all). */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type)?.delete(fn);
  }

  /* ----- connection ----- */

  connect() {
    this.wanted = true;
    if (this.ws || this.retryTimer) return this;
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.open();
    return this;
  }

  close() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.ws) {
      const ws = this.ws;
      this.detach();
      try {
        ws.close(1000);
      } catch {
        /* already closing */
      }
    }
    this.failInFlight();
    this.setState("closed", { reason: "closed by the page" });
  }

  open() {
    this.retryTimer = null;
    this.setState(this.everOpened || this.attempt > 0 ? "reconnecting" : "connecting", { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      this.scheduleRetry({ reason: String(error) });
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = (event) => this.dropped(event.code, event.reason);
    ws.onerror = () => {
      /* onclose follows with the code */
    };
  }

  detach() {
    if (!this.ws) return;
    this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    this.ws = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  dropped(code, reason) {
    this.detach();
    this.failInFlight();
    if (!this.wanted) return;
    if (code === CLOSE_UNAUTHORIZED) {
      this.wanted = false;
      this.setState("closed", { code, reason: reason || "not signed in" });
      return;
    }
    if (CLOSE_RESTARTING.has(code)) this.attempt = 0;
    this.scheduleRetry({ code, reason });
  }

  scheduleRetry(detail) {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt);
    const delayMs = Math.round(exp / 2 + Math.random() * (exp / 2)); // jitter: 50–100 %
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), delayMs);
    this.setState("reconnecting", { ...detail, attempt: this.attempt, delayMs });
  }

  retryNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.ws) this.open();
  }

  failInFlight() {
    for (const req of [...this.requests.values()]) {
      if (req.sent) req.deliver({ type: DISCONNECTED, id: req.id });
    }
  }

  setState(state, detail = {}) {
    const changed = state !== this.state;
    this.state = state;
    if (!changed && state !== "reconnecting") return;
    for (const fn of [...this.statusHandlers]) {
      try {
        fn(state, detail);
      } catch (error) {
        console.error(error);
      }
    }
  }

  receive(data) {
    this.lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.type === "welcome") {
      this.opened(frame);
      this.dispatch(frame);
      if (this.reconnected) {
        this.reconnected = false;
        for (const fn of [...this.reconnectHandlers]) {
          try {
            fn(frame);
          } catch (error) {
            console.error(error);
          }
        }
      }
      return;
    }
    const req = frame.id != null ? this.requests.get(frame.id) : null;
    if (req) req.deliver(frame);
    else this.dispatch(frame);
  }

  opened(welcome) {
    this.reconnected = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    this.welcome = welcome;
    this.setState("open", { welcome });
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
    const queued = this.outbox.splice(0);
    for (const frame of queued) this.write(frame);
  }

  ping() {
    if (!this.ws || this.state !== "open") return;
    if (Date.now() - this.lastFrameAt > this.pingIntervalMs * 2 + 5_000) {
      // Nothing heard (not even a pong) for too long: the connection is dead; start over.
      const ws = this.ws;
      this.detach();
      try {
        ws.close(4000, "no reply");
      } catch {
        /* ignore */
      }
      this.dropped(4000, "no reply");
      return;
    }
    this.write({ type: "ping" });
  }

  dispatch(frame) {
    for (const key of [frame.type, "*"]) {
      const set = this.handlers.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(frame);
        } catch (error) {
          console.error("ws: handler failed", error);
        }
      }
    }
  }

  write(frame) {
    if (!this.ws || this.state !== "open" || this.ws.readyState !== WebSocket.OPEN) {
      if (this.outbox.length >= OUTBOX_LIMIT) this.outbox.shift();
      this.outbox.push(frame);
      return false;
    }
    this.ws.send(JSON.stringify(frame));
    if (frame.id != null) {
      const req = this.requests.get(frame.id);
      if (req) req.sent = true;
    }
    return true;
  }

  /* ----- sending ----- */

  /** Fire and forget; returns true if written now, false if queued until the next welcome. */
  send(frame) {
    return this.write({ ...frame });
  }

  /** Send with a fresh id; every reply with that id goes to the returned request. */
  request(frame, options = {}) {
    const full = { ...frame, id: nextId() };
    const req = new Request(this, full, options);
    this.requests.set(full.id, req);
    this.write(full);
    return req;
  }

  /** The terminal reply as a promise; rejects with WsError on `error` or a lost connection. */
  async call(frame, options = {}) {
    const last = await this.request(frame, options).done;
    if (!last || last.type === "error" || last.type === DISCONNECTED) throw new WsError(last);
    return last;
  }
}

let shared = null;

/** The page-wide socket (created on first use; call .connect() to start it). */
export function getSocket(options) {
  if (!shared) shared = new Socket(options);
  return shared;
}

export default getSocket;
