/*
 * JSON calls to our own API, for every page: the CSRF header, one error type, the server's message.
 *
 *   import { api, ApiError, urlFor } from "kit/api";
 *   const task = await api("POST", "/orchestration/api/tasks", { prompt });   // rejects with an ApiError
 *   await api("DELETE", urlFor("/knowledge/api/sources/0", id));
 */

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "";
  }
}

/** Django's CSRF token: the cookie, else the form field a template rendered. */
export function csrf() {
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

/** The ApiError for a failed answer: the server's own message where it sent one. */
export function apiError(status, data) {
  const message = data && (data.error || data.message || data.detail);
  if (message) return new ApiError(typeof message === "string" ? message : JSON.stringify(message), status, data.code);
  if (status === 413) return new ApiError("The server refused the request: it is too large.", status);
  return new ApiError(`The server answered ${status}.`, status);
}

/** A JSON call with the CSRF header; resolves with the answer ({} when empty), rejects with an ApiError. */
export async function api(method, url, body, { headers = {} } = {}) {
  const options = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET") options.headers["X-CSRFToken"] = csrf();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError("The server could not be reached; check the connection and try again.", 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    /* 204, or a proxy's error page */
  }
  if (!response.ok) throw apiError(response.status, data);
  return data || {};
}

export const getJSON = (url) => api("GET", url);
export const postJSON = (url, body = {}) => api("POST", url, body);

/** Points a URL template like /orchestration/api/tasks/0/cancel at an object. */
export function urlFor(template, id) {
  return template.replace(/\/0(?=\/|$)/, `/${id}`);
}

/** A fresh idempotency key: a double click or a retried request makes one thing, not two. */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
