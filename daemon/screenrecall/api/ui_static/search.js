// Search: a query box (or a dropped image), filters, and a grid of moments. The URL holds the query.
import { api, ago, el, heading, highlight, localInput, localTime, navigate, queryTerms } from "./core.js";

const PAGE = 24;
const MAX = 200;
const RANGES = {
  any: ["Any time", () => [null, null]],
  hour: ["Last hour", () => [Date.now() - 3600e3, null]],
  today: ["Today", () => [new Date().setHours(0, 0, 0, 0), null]],
  yesterday: ["Yesterday", () => {
    const start = new Date().setHours(0, 0, 0, 0) - 86400e3;
    return [start, start + 86400e3 - 1];
  }],
  week: ["Last 7 days", () => [Date.now() - 7 * 86400e3, null]],
  custom: ["Custom range", () => [null, null]],
};

let image = null; // {b64, name} of a dropped or chosen picture (not in the URL: too big)

function field(label, control, hint) {
  const id = control.id;
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hint ? el("small", {}, hint) : null);
}

function select(id, name, options, value) {
  return el(
    "select",
    { id, name },
    options.map(([v, text]) => el("option", { value: v, selected: v === value }, text)),
  );
}

export async function renderSearch(main, params) {
  const q = params.get("q") ?? "";
  const range = params.get("range") ?? "any";
  const input = el("input", { id: "q", name: "q", type: "search", value: q, placeholder: "what you saw: words on the screen, or a description", autocomplete: "off" });
  const since = el("input", { id: "since", name: "since", type: "datetime-local", value: params.get("since") ?? "" });
  const until = el("input", { id: "until", name: "until", type: "datetime-local", value: params.get("until") ?? "" });
  const rangeSelect = select("range", "range", Object.entries(RANGES).map(([k, [t]]) => [k, t]), range);
  const custom = el("div", { class: "custom-range", hidden: range !== "custom" }, field("From", since), field("To", until));
  rangeSelect.addEventListener("change", () => (custom.hidden = rangeSelect.value !== "custom"));
  const fileInput = el("input", { id: "image", type: "file", accept: "image/png,image/jpeg,image/webp,image/gif,image/bmp", class: "visually-hidden" });
  const preview = el("div", { class: "image-query", "aria-live": "polite" });
  const drop = el(
    "div",
    { class: "drop", id: "drop" },
    el("label", { for: "image", class: "button" }, "Search by image…"),
    el("span", { class: "hint" }, " or drop a picture here"),
    preview,
  );
  const showImage = () => {
    preview.replaceChildren();
    if (!image) return;
    preview.append(
      el("img", { src: `data:image/*;base64,${image.b64}`, alt: `query image ${image.name}` }),
      el("span", {}, image.name),
      el("button", { type: "button", onclick: () => { image = null; showImage(); } }, "Remove image"),
    );
  };
  const take = async (file) => {
    if (!file || !file.type.startsWith("image/")) return;
    const data = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.subarray(i, i + 0x8000));
    image = { b64: btoa(binary), name: file.name };
    showImage();
  };
  fileInput.addEventListener("change", () => take(fileInput.files[0]));
  showImage();

  const form = el(
    "form",
    { role: "search", class: "search", "aria-label": "Search your screen history" },
    el("div", { class: "query-row" }, field("Search", input), el("button", { type: "submit", class: "primary" }, "Search")),
    fileInput,
    drop,
    el(
      "fieldset",
      { class: "filters" },
      el("legend", {}, "Filters"),
      field("When", rangeSelect),
      custom,
      field("App", el("input", { id: "app", name: "app", value: params.get("app") ?? "", placeholder: "e.g. firefox" })),
      field("Monitor", el("input", { id: "monitor", name: "monitor", type: "number", min: "1", value: params.get("monitor") ?? "" })),
      field("Source", select("source", "source", [["", "Any"], ["screen", "Screen"], ["folder", "Folder"]], params.get("source") ?? "")),
      field("Host", el("input", { id: "host", name: "host", value: params.get("host") ?? "" })),
      field("Match by", select("mode", "mode", [["hybrid", "Words and look"], ["text", "Words only"], ["visual", "Look only"]], params.get("mode") ?? "hybrid")),
    ),
  );
  for (const target of [form, document.body]) {
    target.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    target.addEventListener("dragleave", () => drop.classList.remove("over"));
    target.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      take(event.dataTransfer?.files?.[0]);
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(form).entries()) {
      if (typeof value === "string" && value && !(key === "range" && value === "any") && !(key === "mode" && value === "hybrid")) {
        if ((key === "since" || key === "until") && rangeSelect.value !== "custom") continue;
        next.set(key, value);
      }
    }
    if (image) next.set("image", "1");
    navigate(`/ui/search?${next}`);
  });

  const summary = el("p", { id: "result-summary", role: "status", "aria-live": "polite" });
  const grid = el("ul", { class: "results", id: "results", "aria-label": "Results" });
  const more = el("button", { type: "button", id: "more", hidden: true }, "Show more results");
  main.replaceChildren(heading("Search"), form, summary, grid, more);
  if (!q && !(params.get("image") && image)) {
    summary.textContent = "Type what you remember, or drop a picture, then press Enter.";
    return;
  }
  const [rangeSince, rangeUntil] = RANGES[range]?.[1]() ?? [null, null];
  const body = { mode: params.get("mode") ?? "hybrid" };
  if (q) body.text = q;
  if (params.get("image") && image) body.image_b64 = image.b64;
  const sinceMs = range === "custom" && params.get("since") ? Date.parse(params.get("since")) : rangeSince;
  const untilMs = range === "custom" && params.get("until") ? Date.parse(params.get("until")) : rangeUntil;
  if (sinceMs) body.since_ms = Math.floor(sinceMs);
  if (untilMs) body.until_ms = Math.floor(untilMs);
  for (const key of ["app", "source", "host"]) if (params.get(key)) body[key] = params.get(key);
  if (params.get("monitor")) body.monitor = Number(params.get("monitor"));
  const terms = queryTerms(q);
  let limit = PAGE;
  const load = async () => {
    summary.textContent = "Searching…";
    more.hidden = true;
    let results;
    try {
      results = (await api("/v1/search", { method: "POST", body: { ...body, limit } })).results;
    } catch (error) {
      summary.textContent = `Search failed: ${error.message}`;
      return;
    }
    grid.replaceChildren(...results.map((m) => card(m, terms, q)));
    summary.textContent = results.length ? `${results.length} moments found` : "Nothing found. Try other words or a wider time range.";
    more.hidden = results.length < limit || limit >= MAX;
  };
  more.addEventListener("click", () => {
    limit = Math.min(MAX, limit + PAGE);
    load().then(() => grid.children[limit - PAGE]?.querySelector("a")?.focus());
  });
  await load();
}

function card(moment, terms, q) {
  const when = localTime(moment.captured_at_ms);
  const place = moment.source === "screen" ? `monitor ${moment.monitor}` : "folder";
  const title = moment.window_title || moment.path || "(no title)";
  const snippet = el("p", { class: "snippet" });
  if (moment.snippet) highlight(snippet, moment.snippet, terms);
  const href = `/ui/moment/${moment.id}${q ? `?q=${encodeURIComponent(q)}` : ""}`;
  return el(
    "li",
    { class: "card" },
    el(
      "a",
      { href, "data-link": true },
      el("img", { src: `/v1/records/${moment.id}/thumbnail`, alt: "", loading: "lazy", width: "320", height: "180" }),
      el("span", { class: "when" }, el("time", { datetime: new Date(moment.captured_at_ms).toISOString() }, when), ` · ${ago(moment.captured_at_ms)}`),
      el("span", { class: "title" }, moment.app ? `${moment.app} — ` : "", title),
    ),
    el("span", { class: "meta" }, `${place}${moment.host ? ` · ${moment.host}` : ""} · score ${moment.score.toFixed(3)}`),
    snippet,
  );
}

export { localInput };
