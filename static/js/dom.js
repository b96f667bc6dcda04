/*
 * Building the DOM without HTML strings, for every page. Text from the server, a model or a scraped
 * page is hostile: it goes in through textContent and attributes only (markdown.js sanitises the rest).
 *
 *   import { el, icon, setText } from "kit/dom";
 *   el("a", { class: "btn", href, text: "Open" });        // by property where there is one, text via textContent
 *   el("li", "conversation-item", el("span", "title", title));  // a class name, then children
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/** el(tag, attrs | className, ...children): null and false attributes and children are left out. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  if (typeof attrs === "string") attrs = { class: attrs };
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || !(key in node)) {
      node.setAttribute(key, value); // also an attribute with no property of that name: colspan, datetime
    } else node[key] = value;
  }
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

/** Sets the text only when it changed (a live region then announces real changes only). */
export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

/** An error line: the message shown, or the line hidden when there is none. */
export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/** The JSON a template put in a <script type="application/json" id=…> (json_script). */
export function jsonData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

/** The sprite's URL (hashed in production): the shell puts it on <html data-icons>. */
export function iconsUrl() {
  return document.querySelector("[data-icons]")?.dataset.icons || "/static/img/icons.svg";
}

/** <svg><use href="icons.svg#name"></svg>, hidden from assistive technology. */
export function icon(name, className = "icon icon-sm") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `${iconsUrl()}#${name}`);
  svg.append(use);
  return svg;
}

/** Puts text on the clipboard (the old way where the Clipboard API is not allowed); true when it worked. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* fall back below */
    }
  }
  const helper = el("textarea", "clipboard-helper");
  helper.value = text;
  helper.setAttribute("readonly", "");
  helper.setAttribute("aria-hidden", "true");
  document.body.append(helper);
  helper.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  helper.remove();
  return ok;
}
