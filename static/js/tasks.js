/*
 * Following jobs live over /ws (protocol.md `task:subscribe`): every core Job row — orchestrator
 * tasks, browser jobs, knowledge ingestion, the Models page's benchmarks — publishes `task:update`.
 *
 *   import { TaskFollower } from "kit/tasks";
 *   const follower = new TaskFollower((state) => render(state), { onStatus });
 *   follower.follow(job.id);   // subscribed again after every reconnect; unsubscribed once finished
 */
import { FINISHED } from "kit/badges";
import { getSocket } from "kit/ws";

export { FINISHED };

export class TaskFollower {
  constructor(onUpdate, { onStatus = null } = {}) {
    this.onUpdate = onUpdate;
    this.onStatus = onStatus;
    this.ids = new Set();
    this.ws = null;
  }

  start() {
    if (!this.ws) {
      this.ws = getSocket();
      if (this.onStatus) this.ws.onStatus(this.onStatus);
      this.ws.on("task:update", (frame) => this.receive(frame));
      this.ws.onReconnect(() => {
        for (const id of this.ids) this.subscribe(id);
      });
      this.ws.connect();
    }
    return this.ws;
  }

  /** Whether the socket is up now (a page may fall back to polling while it is not). */
  get isOpen() {
    return Boolean(this.ws && this.ws.isOpen);
  }

  follow(id) {
    id = Number(id);
    if (this.ids.has(id)) return;
    this.ids.add(id);
    this.start();
    this.subscribe(id);
  }

  forget(id) {
    id = Number(id);
    if (!this.ids.delete(id) || !this.ws) return;
    this.ws.call({ type: "task:unsubscribe", task_id: id }).catch(() => {});
  }

  subscribe(id) {
    this.ws.call({ type: "task:subscribe", task_id: id }).catch((error) => {
      // not_found: the job is gone; a lost connection is retried by onReconnect.
      if (error && error.code === "not_found") this.ids.delete(id);
    });
  }

  receive(frame) {
    if (!this.ids.has(frame.task_id)) return;
    if (FINISHED.has(frame.status)) this.forget(frame.task_id);
    this.onUpdate(frame);
  }
}
