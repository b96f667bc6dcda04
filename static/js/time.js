/*
 * The one way the app writes a moment: the reader's locale and time zone, "Dec 4, 2026, 1:12 PM".
 * The shell runs localTimes() on every page, so a <time datetime=… data-local> needs no page script.
 */

const FORMAT = { dateStyle: "medium", timeStyle: "short" };

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, FORMAT);
}

export function localTimes(root = document) {
  for (const time of root.querySelectorAll("time[data-local]")) {
    if (time.dateTime) time.textContent = formatTime(time.dateTime);
  }
}
