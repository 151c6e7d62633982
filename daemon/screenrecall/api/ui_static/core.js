// Shared helpers: the API with the session's CSRF token, DOM building (text only: never
// innerHTML with data), times, highlighting and the confirmation dialog.

const CSRF = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = CSRF;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401) {
    showNotice("This browser's session ended. Run `screenrecall ui` for a new login link.", true);
  }
  if (!response.ok) throw new ApiError(response.status, (await response.text()) || response.statusText);
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function localTime(ms, withDate = true) {
  const options = withDate
    ? { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" }
    : { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  return new Date(ms).toLocaleString(undefined, options);
}

export function ago(ms) {
  const seconds = Math.max(0, (Date.now() - ms) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400 * 2) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function duration(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 1) return `${Math.round(ms / 1000)} s`;
  if (minutes < 120) return `${minutes} min`;
  return `${Math.round(minutes / 60)} h`;
}

export function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.round(n / 1e3)} kB`;
}

/** The words and "quoted phrases" of a query, for highlighting. */
export function queryTerms(text) {
  if (!text) return [];
  const terms = [];
  const pattern = /"([^"]+)"|(\S+)/g;
  for (const match of text.matchAll(pattern)) {
    const term = (match[1] ?? match[2]).trim();
    if (term.length >= 2) terms.push(term);
  }
  return terms;
}

/** Appends text to parent with every term wrapped in <mark>, as text nodes (no markup injection). */
export function highlight(parent, text, terms) {
  if (!terms.length) {
    parent.append(text);
    return 0;
  }
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+"));
  const pattern = new RegExp(`(${escaped.join("|")})`, "gi");
  let last = 0;
  let count = 0;
  for (const match of text.matchAll(pattern)) {
    parent.append(text.slice(last, match.index));
    parent.append(el("mark", {}, match[0]));
    last = match.index + match[0].length;
    count += 1;
  }
  parent.append(text.slice(last));
  return count;
}

let noticeTimer = 0;
export function showNotice(text, sticky = false) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  if (!sticky) noticeTimer = setTimeout(() => (notice.hidden = true), 8000);
}

/** A modal confirmation; resolves true only when the user chose the dangerous action. */
export function confirmAction(title, text, action = "Forget") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "cancel";
  dialog.showModal();
  document.getElementById("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

export function navigate(url) {
  history.pushState({}, "", url);
  window.dispatchEvent(new Event("sr:navigate"));
}

/** yyyy-mm-ddThh:mm in local time, for datetime-local inputs. */
export function localInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function localDate(ms) {
  return localInput(ms).slice(0, 10);
}

export function heading(text) {
  return el("h1", { id: "view-title", tabindex: "-1" }, text);
}
