// One moment: its readable frame (zoomable), the text on it with the query's words marked,
// its details, and forgetting it (or a range around it) after a confirmation.
import { api, ago, confirmAction, el, heading, highlight, localInput, localTime, navigate, queryTerms, showNotice } from "./core.js";
import { frameCanvas, thumbnailImage } from "./frame.js";

const ZOOMS = [0.25, 0.5, 0.75, 1, 1.5, 2, 3];

export async function renderMoment(main, recordId, params) {
  main.replaceChildren(heading("Moment"), el("p", { role: "status" }, "Loading…"));
  let record;
  try {
    record = await api(`/v1/records/${recordId}`);
  } catch (error) {
    main.replaceChildren(
      heading("Moment not found"),
      el("p", { role: "alert" }, error.status === 404 ? "This moment is not remembered (it may have been forgotten)." : error.message),
      el("p", {}, el("a", { href: "/ui/search", "data-link": true }, "Back to search")),
    );
    return;
  }
  const q = params.get("q") ?? "";
  const terms = queryTerms(q);
  const when = localTime(record.captured_at_ms);
  const label = `Screen of ${record.app || "unknown app"} at ${when}`;
  const viewport = el("div", { class: "viewport", id: "viewport", tabindex: "0", "aria-label": "Frame, scrollable when zoomed" });
  const zoomLabel = el("output", { id: "zoom-level", "aria-live": "polite" }, "Fit");
  let zoom = 0; // 0: fit to width
  let picture = null;
  const applyZoom = () => {
    if (!picture) return;
    picture.classList.toggle("fit", zoom === 0);
    picture.style.width = zoom === 0 ? "" : `${Math.round(record.width * zoom)}px`;
    zoomLabel.textContent = zoom === 0 ? "Fit" : `${Math.round(zoom * 100)} %`;
  };
  const step = (direction) => {
    const current = zoom === 0 ? (viewport.clientWidth || 1) / (record.width || 1) : zoom;
    const next = direction > 0 ? ZOOMS.find((z) => z > current + 1e-3) : [...ZOOMS].reverse().find((z) => z < current - 1e-3);
    zoom = next ?? zoom;
    applyZoom();
  };
  viewport.addEventListener("keydown", (event) => {
    if (event.key === "+" || event.key === "=") { step(1); event.preventDefault(); }
    if (event.key === "-") { step(-1); event.preventDefault(); }
    if (event.key === "0") { zoom = 0; applyZoom(); event.preventDefault(); }
    if (event.key === "1") { zoom = 1; applyZoom(); event.preventDefault(); }
  });
  const zoomBar = el(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Zoom" },
    el("button", { type: "button", onclick: () => step(-1), "aria-label": "Zoom out" }, "−"),
    el("button", { type: "button", onclick: () => step(1), "aria-label": "Zoom in" }, "+"),
    el("button", { type: "button", onclick: () => { zoom = 1; applyZoom(); } }, "100 %"),
    el("button", { type: "button", onclick: () => { zoom = 0; applyZoom(); } }, "Fit"),
    zoomLabel,
  );
  const text = el("pre", { class: "ocr", id: "ocr-text", tabindex: "0", "aria-label": "Text read on this screen" });
  const marks = record.text ? highlight(text, record.text, terms) : 0;
  if (!record.text) text.textContent = "(no text was read on this screen)";
  const details = el(
    "dl",
    { class: "details" },
    row("When", `${when} (${ago(record.captured_at_ms)})`),
    row("Seen until", localTime(record.last_seen_ms)),
    row("App", record.app || "—"),
    row("Window", record.window_title || "—"),
    row("Where", record.source === "screen" ? `monitor ${record.monitor}` : record.path),
    row("Host", record.host || "—"),
    row("Size", `${record.width} × ${record.height}`),
  );
  const timelineHref = `/ui/timeline?monitor=${record.monitor}&at=${record.captured_at_ms}`;
  const actions = el(
    "div",
    { class: "actions" },
    el("a", { href: timelineHref, "data-link": true, class: "button" }, "Show in timeline"),
    el("button", { type: "button", class: "danger", id: "forget-moment", onclick: () => forgetMoment(record) }, "Forget this moment"),
    el("button", { type: "button", id: "forget-range-open", onclick: () => (rangeForm.hidden = !rangeForm.hidden) }, "Forget a range…"),
  );
  const since = el("input", { id: "forget-since", type: "datetime-local", value: localInput(record.captured_at_ms - 5 * 60e3) });
  const until = el("input", { id: "forget-until", type: "datetime-local", value: localInput(record.last_seen_ms + 5 * 60e3) });
  const rangeForm = el(
    "form",
    { class: "range-form", hidden: true, "aria-label": "Forget a time range" },
    el("div", { class: "field" }, el("label", { for: "forget-since" }, "From"), since),
    el("div", { class: "field" }, el("label", { for: "forget-until" }, "To"), until),
    el("button", { type: "submit", class: "danger" }, "Forget this range…"),
  );
  rangeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    forgetRange(Date.parse(since.value), Date.parse(until.value) + 59_999);
  });
  main.replaceChildren(
    heading(`${record.app || "Screen"} — ${when}`),
    el("p", { class: "subtitle" }, record.window_title || ""),
    el(
      "div",
      { class: "moment" },
      el("section", { class: "picture", "aria-labelledby": "frame-heading" }, el("h2", { id: "frame-heading" }, "Frame"), zoomBar, viewport),
      el(
        "aside",
        { class: "side" },
        el("h2", {}, "Details"),
        details,
        actions,
        rangeForm,
        el("h2", { id: "text-heading" }, "Text on this screen", terms.length ? el("small", {}, ` (${marks} matches marked)`) : null),
        text,
      ),
    ),
  );
  try {
    picture = (await frameCanvas(recordId, label)) ?? thumbnailImage(recordId, `${label} (only a thumbnail was kept)`);
  } catch (error) {
    picture = el("p", { role: "alert" }, `The frame could not be shown: ${error.message}`);
  }
  viewport.replaceChildren(picture);
  applyZoom();
}

function row(term, value) {
  return [el("dt", {}, term), el("dd", {}, value)];
}

async function forgetMoment(record) {
  const from = localTime(record.captured_at_ms);
  const to = localTime(record.last_seen_ms, false);
  const ok = await confirmAction(
    "Forget this moment?",
    `Everything recorded from ${from} to ${to}, on every monitor, will be deleted with its pictures and text. This cannot be undone.`,
  );
  if (ok) await forgetRange(record.captured_at_ms, record.last_seen_ms, true);
}

async function forgetRange(since, until, confirmed = false) {
  if (!Number.isFinite(since) || !Number.isFinite(until) || since > until) {
    showNotice("Choose a start before the end.");
    return;
  }
  if (!confirmed) {
    const ok = await confirmAction(
      "Forget this range?",
      `Everything recorded from ${localTime(since)} to ${localTime(until)}, on every monitor, will be deleted. This cannot be undone.`,
    );
    if (!ok) return;
  }
  try {
    const reply = await api("/v1/forget", { method: "POST", body: { since_ms: Math.floor(since), until_ms: Math.floor(until) } });
    showNotice(`Forgotten: ${reply.forgotten} record${reply.forgotten === 1 ? "" : "s"}.`);
    navigate(`/ui/timeline?at=${Math.floor(since)}`);
  } catch (error) {
    showNotice(`Could not forget: ${error.message}`, true);
  }
}
