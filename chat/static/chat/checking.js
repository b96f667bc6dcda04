/*
 * What an answer carries beyond its text, drawn once on the final render (never per streamed token):
 * citations [n] as superscript links to their sources, the sentences the hallucination check flagged
 * highlighted, the verdict badge and notice, the sources list and the check details.
 */
import { el, icon, setText } from "kit/dom";

/* ---------- citations and the hallucination check (final render only) ---------- */

export const VERDICTS = {
  supported: "Supported",
  uncertain: "Uncertain",
  likely_hallucinated: "Likely hallucinated",
  hallucinated: "Likely hallucinated",
  unchecked: "Not checked",
};
export const CITE_RE = /\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]/g;
export const NO_CITES_IN = "pre, code, a, kbd, samp"; // [n] there is code or already a link
export const NO_CLAIMS_IN = "pre, code";

export function fixed2(value) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(2) : "";
}

export function verdictOf(validation) {
  const verdict = validation && typeof validation.verdict === "string" ? validation.verdict : "unchecked";
  return VERDICTS[verdict] ? verdict : "unchecked";
}

/** Only same-site paths and http(s) addresses become links; anything else (javascript:, data:) does not. */
export function safeHref(value) {
  const text = String(value || "").trim();
  if (text.startsWith("/") && !text.startsWith("//")) return text;
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href;
  } catch {
    /* not a URL */
  }
  return "";
}

export function sourceLabel(c) {
  return c.source_title || c.heading || `Source ${c.n}`;
}

/** The text nodes under root, in document order, leaving out those inside `skip` elements. */
export function textNodesOf(root, skip) {
  const nodes = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.nodeValue || (parent && parent !== root && parent.closest(skip) && root.contains(parent.closest(skip)))) continue;
    nodes.push(node);
  }
  return nodes;
}

export function decorateBody(rec) {
  if (rec.role !== "assistant" || rec.status === "streaming") return;
  if (rec.validation) highlightClaims(rec);
  if (rec.citations.length) linkCitations(rec);
}

/** Every [n] (or [1, 2]) that names a citation becomes a superscript link to its source. */
export function linkCitations(rec) {
  const byN = new Map();
  for (const c of rec.citations) if (c && Number.isInteger(Number(c.n))) byN.set(Number(c.n), c);
  if (!byN.size) return;
  for (const node of textNodesOf(rec.body, NO_CITES_IN)) {
    const text = node.nodeValue;
    if (!text.includes("[")) continue;
    let fragment = null;
    let last = 0;
    for (const match of text.matchAll(CITE_RE)) {
      const ns = match[1].split(",").map((n) => Number(n.trim()));
      if (!ns.every((n) => byN.has(n))) continue;
      fragment ??= document.createDocumentFragment();
      // A no-break space before the marker keeps it on the line of the word it belongs to.
      fragment.append(text.slice(last, match.index).replace(/ $/, "\u00a0"));
      const sup = el("sup", "cite");
      ns.forEach((n, i) => {
        if (i) sup.append(",");
        sup.append(citeLink(byN.get(n)));
      });
      fragment.append(sup);
      last = match.index + match[0].length;
    }
    if (!fragment) continue;
    fragment.append(text.slice(last));
    node.replaceWith(fragment);
  }
}

export function citeLink(c) {
  const href = safeHref(c.page) || safeHref(c.url);
  const link = el(href ? "a" : "span", "cite-ref", String(c.n));
  const label = `${sourceLabel(c)}${c.kb_name ? ` — ${c.kb_name}` : ""}`;
  link.title = c.excerpt ? `[${c.n}] ${label}\n${c.excerpt}` : `[${c.n}] ${label}`;
  link.setAttribute("aria-label", `Source ${c.n}: ${label}`);
  if (href) {
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
  }
  return link;
}

/** The sentence as it reads once rendered: markdown punctuation off, whitespace collapsed. */
export function renderedText(markdown) {
  return String(markdown)
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)/gm, "")
    .replace(/`+|\*\*|__|~~/g, "")
    .replace(/(^|[\s(])[*_](?=\S)/g, "$1")
    .replace(/(\S)[*_](?=[\s).,;:!?]|$)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

export function flaggedSentences(validation) {
  const sentences = Array.isArray(validation.sentences) ? validation.sentences : [];
  return sentences.filter((s) => s && typeof s.text === "string" && s.text.trim() && s.label && s.label !== "supported");
}

export function claimClass(label) {
  return label === "uncertain" ? "claim--uncertain" : "claim--hallucinated";
}

export function evidenceText(evidence) {
  if (!evidence || typeof evidence !== "object") return "";
  return Object.entries(evidence)
    .filter(([, text]) => text)
    .map(([name, text]) => `${name}: ${Array.isArray(text) ? text.join("; ") : text}`)
    .join("\n");
}

/**
 * Wraps each flagged sentence in <mark class="claim …">, found on the rendered text nodes (whitespace
 * collapsed); a sentence that crosses formatting is marked piece by piece. One that cannot be found
 * (changed by the rendering) is only listed in the check details; rec.unplaced counts them.
 */
export function highlightClaims(rec) {
  rec.unplaced = 0;
  const flagged = flaggedSentences(rec.validation);
  if (!flagged.length) return;
  const nodes = textNodesOf(rec.body, NO_CLAIMS_IN);
  const chars = [];
  const where = []; // where[i] = [node index, offset] of chars[i]
  let space = true;
  nodes.forEach((node, ni) => {
    const text = node.nodeValue;
    for (let i = 0; i < text.length; i += 1) {
      const blank = /\s/.test(text[i]);
      if (blank && space) continue;
      chars.push(blank ? " " : text[i]);
      where.push([ni, i]);
      space = blank;
    }
  });
  const rendered = chars.join("");
  const pieces = new Map(); // node index -> [[start, end, sentence]]
  let cursor = 0;
  for (const sentence of flagged) {
    const needle = renderedText(sentence.text);
    if (!needle) continue;
    let at = rendered.indexOf(needle, cursor);
    if (at < 0) at = rendered.indexOf(needle);
    if (at < 0) {
      rec.unplaced += 1;
      continue;
    }
    cursor = at + needle.length;
    for (let i = at; i < at + needle.length; ) {
      const [ni, start] = where[i];
      let j = i;
      while (j + 1 < at + needle.length && where[j + 1][0] === ni) j += 1;
      if (!pieces.has(ni)) pieces.set(ni, []);
      pieces.get(ni).push([start, where[j][1] + 1, sentence]);
      i = j + 1;
    }
  }
  for (const [ni, list] of pieces) {
    list.sort((a, b) => b[0] - a[0]); // from the end, so earlier offsets stay valid
    for (const [start, end, sentence] of list) {
      const node = nodes[ni];
      if (!node.nodeValue.slice(start, end).trim()) continue;
      const piece = node.splitText(start);
      piece.splitText(end - start);
      const mark = el("mark", `claim ${claimClass(sentence.label)}`);
      const why = evidenceText(sentence.evidence);
      const score = fixed2(sentence.score);
      mark.title = `${VERDICTS[sentence.label] || "Flagged"}${score ? ` (risk ${score})` : ""}${why ? `\n${why}` : ""}`;
      mark.dataset.sentence = String(sentence.index ?? "");
      piece.replaceWith(mark);
      mark.append(piece);
    }
  }
}

/** The verdict badge, the notice, the sources list, a grounding warning and the check details. */
export function renderExtras(rec) {
  if (rec.role !== "assistant" || !rec.extras) return;
  const v = rec.validation;
  const finished = rec.status !== "streaming";
  rec.verdict.hidden = !(v && finished);
  rec.notice.hidden = true;
  const parts = [];
  if (v && finished) {
    const verdict = verdictOf(v);
    const score = verdict === "unchecked" ? "" : fixed2(v.score);
    rec.verdict.dataset.verdict = verdict;
    setText(rec.verdict, score ? `${VERDICTS[verdict]} · ${score}` : VERDICTS[verdict]);
    rec.verdict.title = verdict === "unchecked"
      ? `Not checked for hallucinations${v.error ? `: ${v.error}` : ""}`
      : `Hallucination check: risk ${score} of 1 (0 means well supported). “Check details” below says why.`;
    const notice = typeof v.notice === "string" ? v.notice.trim() : "";
    if (notice) {
      rec.notice.dataset.verdict = verdict;
      rec.notice.replaceChildren(icon(verdict === "supported" ? "i-info" : "i-alert"), el("p", null, notice));
      rec.notice.hidden = false;
    }
  }
  if (finished && rec.citations.length) parts.push(sourcesList(rec));
  if (finished && rec.groundingWarning) {
    const note = el("p", "grounding-warning");
    note.append(icon("i-info"), el("span", null, `No sources used: ${rec.groundingWarning}.`));
    parts.push(note);
  }
  if (v && finished) parts.push(checkDetails(rec));
  rec.extras.replaceChildren(...parts);
  rec.extras.hidden = !parts.length;
}

export function sourcesList(rec) {
  const section = el("section", "message-sources");
  const headingId = `sources-${rec.id ?? Math.random().toString(36).slice(2)}`;
  const heading = el("h3", "message-sources-title", "Sources");
  heading.id = headingId;
  section.setAttribute("aria-labelledby", headingId);
  const list = el("ol", "source-list");
  for (const c of rec.citations) {
    if (!c) continue;
    const item = el("li", "source-item");
    item.dataset.n = String(c.n);
    const row = el("div", "source-row");
    row.append(el("span", "source-n", `[${c.n}]`));
    const href = safeHref(c.page) || safeHref(c.url);
    const title = el(href ? "a" : "span", "source-title", sourceLabel(c));
    if (href) {
      title.href = href;
      title.target = "_blank";
      title.rel = "noopener";
    }
    if (c.excerpt) title.title = c.excerpt;
    row.append(title);
    const meta = [c.kb_name, c.heading && c.heading !== c.source_title ? c.heading : ""].filter(Boolean).join(" · ");
    if (meta) row.append(el("span", "source-meta", `— ${meta}`));
    const original = safeHref(c.url);
    if (original && /^https?:/.test(original) && original !== href) {
      const link = el("a", "source-original", new URL(original).host);
      link.href = original;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      link.title = `The original page: ${original}`;
      row.append(link);
    }
    item.append(row);
    if (c.excerpt) {
      const quote = el("blockquote", "source-excerpt", c.excerpt);
      quote.id = `${headingId}-${c.n}`;
      quote.hidden = true;
      const toggle = el("button", "source-toggle", "Excerpt");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", quote.id);
      toggle.setAttribute("aria-label", `Excerpt of source ${c.n}`);
      row.append(toggle);
      item.append(quote);
    }
    list.append(item);
  }
  section.append(heading, list);
  return section;
}

/** "Check details": the summary now, the contents when first opened (most are never opened). */
export function checkDetails(rec) {
  const details = el("details", "check-details");
  const v = rec.validation;
  const flagged = flaggedSentences(v).length;
  const summary = el("summary", null, "Check details");
  if (flagged) summary.append(el("span", "check-count", `${flagged} sentence${flagged === 1 ? "" : "s"} flagged`));
  details.append(summary);
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.built) {
      details.dataset.built = "1";
      details.append(checkDetailsBody(rec));
    }
  });
  return details;
}

export function table(headers, rows, className) {
  const wrap = el("div", "table-scroll");
  const t = el("table", `check-table ${className || ""}`.trim());
  const head = el("tr");
  for (const h of headers) {
    const th = el("th", null, h);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const row of rows) tbody.append(row);
  t.append(thead, tbody);
  wrap.append(t);
  return wrap;
}

export function cells(values) {
  const tr = el("tr");
  for (const value of values) {
    const td = el("td");
    td.append(value);
    tr.append(td);
  }
  return tr;
}

export function checkDetailsBody(rec) {
  const v = rec.validation;
  const body = el("div", "check-body");
  const verdict = verdictOf(v);
  const bits = [];
  if (verdict !== "unchecked" && fixed2(v.score)) bits.push(`Risk ${fixed2(v.score)} of 1 (0 means well supported, 1 hallucinated).`);
  if (typeof v.ms === "number") bits.push(`Checked in ${v.ms >= 1000 ? `${(v.ms / 1000).toFixed(1)} s` : `${Math.round(v.ms)} ms`}.`);
  if (v.replaced) bits.push("The answer shown is a rewrite, not the one that streamed.");
  if (bits.length) body.append(el("p", "check-lead", bits.join(" ")));
  if (v.error) body.append(el("p", "check-error", `The check itself failed: ${v.error}`));

  const signals = Array.isArray(v.signals) ? v.signals.filter(Boolean) : [];
  if (signals.length) {
    body.append(el("h4", null, "Signals"));
    body.append(table(["Signal", "Score", "Weight", "Evidence"], signals.map((s) => {
      const evidence = Array.isArray(s.evidence) ? s.evidence.join("; ") : String(s.evidence ?? "");
      const row = cells([s.title || s.name, s.score == null ? "not used" : fixed2(s.score), fixed2(s.weight), evidence]);
      row.dataset.signal = s.name || "";
      if (s.used === false || s.score == null) row.classList.add("is-unused");
      return row;
    }), "check-signals"));
  }

  const flagged = flaggedSentences(v);
  if (flagged.length) {
    body.append(el("h4", null, "Flagged sentences"));
    const list = el("ol", "check-sentences");
    for (const s of flagged) {
      const item = el("li");
      const label = el("span", `claim-label ${claimClass(s.label)}`, `${VERDICTS[s.label] || s.label}${fixed2(s.score) ? ` · ${fixed2(s.score)}` : ""}`);
      item.append(label, el("q", null, renderedText(s.text)));
      const reasons = Object.entries(s.evidence && typeof s.evidence === "object" ? s.evidence : {}).filter(([, t]) => t);
      if (reasons.length) {
        const why = el("ul", "check-reasons");
        for (const [name, text] of reasons) {
          const li = el("li");
          li.append(el("strong", null, `${name}: `), Array.isArray(text) ? text.join("; ") : String(text));
          why.append(li);
        }
        item.append(why);
      }
      list.append(item);
    }
    body.append(list);
    if (rec.unplaced) {
      body.append(el("p", "muted small", `${rec.unplaced} of them could not be highlighted in the text (their formatting differs).`));
    }
  }

  const checks = Array.isArray(v.checks) ? v.checks.filter(Boolean) : [];
  if (checks.length) {
    body.append(el("h4", null, "Basic checks"));
    const list = el("ul", "check-list");
    for (const c of checks) {
      const item = el("li");
      item.dataset.passed = String(Boolean(c.passed));
      item.append(el("span", "check-mark", c.passed ? "Passed" : "Failed"), ` ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
      list.append(item);
    }
    body.append(list);
  }

  const attempts = Array.isArray(v.attempts) ? v.attempts.filter(Boolean) : [];
  if (attempts.length > 1) {
    body.append(el("h4", null, "Attempts"));
    body.append(table(["#", "Strategy", "Model", "Temperature", "Score", "Verdict", ""], attempts.map((a, i) => {
      const chosen = i === v.chosen;
      const row = cells([
        String(i + 1),
        String(a.strategy || "").replaceAll("_", " "),
        a.model || "",
        a.temperature == null ? "default" : String(a.temperature),
        fixed2(a.score),
        VERDICTS[a.verdict] || a.verdict || "",
        chosen ? "shown" : "",
      ]);
      if (chosen) {
        row.classList.add("is-chosen");
        row.setAttribute("aria-current", "true");
      }
      return row;
    }), "check-attempts"));
  }
  return body;
}
