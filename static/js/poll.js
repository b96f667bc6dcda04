/*
 * Asking the server again and again, politely: one call at a time, none while the tab is hidden
 * (unless asked), and a throttle for refetching when a live update says something changed.
 *
 *   import { poll, throttled } from "kit/poll";
 *   const state = poll(refresh, 10_000);      // every 10 s; state.now() asks at once, state.stop()
 *   const refetch = throttled(load, 1000);    // at most once a second, and once after the last call
 */

export function poll(fn, ms, { whileHidden = false, immediately = false } = {}) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (whileHidden || !document.hidden) {
      try {
        await fn();
      } catch (error) {
        console.warn(error);
      }
    }
    if (!stopped && timer === null) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, immediately ? 0 : ms);
  return {
    now() {
      clearTimeout(timer);
      return tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Runs `fn` at most once per `ms`, and once more after the last call (for refetching on updates). */
export function throttled(fn, ms) {
  let timer = null;
  let running = null;
  let again = false;
  let last = 0;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    last = Date.now();
    running = Promise.resolve().then(fn).catch((error) => console.warn(error));
    await running;
    running = null;
    if (again) {
      again = false;
      schedule();
    }
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, ms - (Date.now() - last)));
  };
  return schedule;
}
