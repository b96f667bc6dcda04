// Model output as markdown, for the chat and orchestrator pages: parsed by marked and always sanitised by
// DOMPurify (named "vendor/marked" and "vendor/purify" by the import map in base.html). Raw HTML the model
// wrote is shown as text, images become links (they would load from anywhere and break the CSP), links
// open in a new tab without the opener. If the libraries cannot be loaded, the text is shown as it is.

export const SANITIZE = {
  FORBID_TAGS: ["style", "img", "form", "input", "button", "textarea", "select", "option", "iframe", "frame",
    "object", "embed", "video", "audio", "source", "picture", "link", "meta", "base", "dialog"],
  FORBID_ATTR: ["style", "id", "name", "srcset", "form", "formaction", "autofocus", "tabindex"],
  ALLOW_DATA_ATTR: false,
};

let loading = null;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** {marked, DOMPurify} once loaded (named by the import map), or null when they cannot be (the text is then shown plain). */
export function loadMarkdown() {
  if (loading) return loading;
  loading = (async () => {
    try {
      const [markedModule, purifyModule] = await Promise.all([import("vendor/marked"), import("vendor/purify")]);
      const marked = markedModule.marked || markedModule.default;
      const DOMPurify = purifyModule.default || purifyModule.DOMPurify;
      if (!marked || !DOMPurify || typeof DOMPurify.sanitize !== "function") throw new Error("unexpected modules");
      marked.use({
        renderer: {
          html(token) {
            const text = escapeHtml((token && (token.text ?? token.raw)) || "");
            return token && token.block ? `<p>${text}</p>` : text;
          },
          image(token) {
            const href = token && token.href ? String(token.href) : "";
            const text = (token && (token.text || token.title)) || href || "image";
            return `<a href="${escapeHtml(href)}">${escapeHtml(`[image: ${text}]`)}</a>`;
          },
        },
      });
      DOMPurify.addHook("uponSanitizeAttribute", (node, data) => {
        if (data.attrName === "class") {
          const keep = node.nodeName === "CODE" && /^language-[\w+#.-]+$/.test(data.attrValue || "");
          if (!keep) data.keepAttr = false;
        }
      });
      DOMPurify.addHook("afterSanitizeAttributes", (node) => {
        if (node.nodeName === "A" && node.hasAttribute("href")) {
          node.setAttribute("target", "_blank");
          node.setAttribute("rel", "noopener noreferrer nofollow");
        }
      });
      return { marked, DOMPurify };
    } catch (error) {
      console.warn("markdown unavailable, showing plain text", error);
      return null;
    }
  })();
  return loading;
}

/**
 * Fills `node` with `text` rendered as sanitised markdown (plain text until the libraries are in).
 * `styled: false` leaves out the shared `.md` look, for a page that styles its own (the chat's bubbles).
 */
export function renderMarkdown(node, text, md, { styled = true } = {}) {
  if (styled) node.classList.add("md");
  const content = String(text ?? "");
  if (!md) {
    node.classList.add("is-plain");
    if (node.textContent !== content) node.textContent = content;
    return node;
  }
  try {
    node.innerHTML = md.DOMPurify.sanitize(md.marked.parse(content, { gfm: true, breaks: true }), SANITIZE);
    node.classList.remove("is-plain");
  } catch (error) {
    console.warn("markdown failed", error);
    node.classList.add("is-plain");
    node.textContent = content;
  }
  for (const table of node.querySelectorAll("table")) {
    const wrap = document.createElement("div");
    wrap.className = "table-scroll";
    table.replaceWith(wrap);
    wrap.append(table);
  }
  return node;
}

/**
 * Each <pre> in a rendered answer gets a head with its language and a Copy button (`.code-copy`;
 * the page handles the click, e.g. with copyText from kit/dom).
 */
export function enhanceCodeBlocks(node, icon) {
  for (const pre of node.querySelectorAll("pre")) {
    if (pre.parentElement && pre.parentElement.classList.contains("code-block")) continue;
    const code = pre.querySelector("code");
    const match = code && /(?:^|\s)language-([\w+#.-]+)/.exec(code.className);
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    const head = document.createElement("div");
    head.className = "code-block-head";
    const lang = document.createElement("span");
    lang.className = "code-lang";
    lang.textContent = match ? match[1] : "code";
    const button = document.createElement("button");
    button.className = "code-copy";
    button.type = "button";
    button.setAttribute("aria-label", `Copy ${match ? match[1] + " " : ""}code`);
    const label = document.createElement("span");
    label.className = "btn-label";
    label.textContent = "Copy";
    if (icon) button.append(icon("i-copy"));
    button.append(label);
    head.append(lang, button);
    pre.replaceWith(wrap);
    wrap.append(head, pre);
  }
  return node;
}
