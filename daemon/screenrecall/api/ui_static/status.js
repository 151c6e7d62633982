// Status: capture state with pause (also "for 15 min") and resume, what is excluded, records,
// disk use against the budget, the last frame, queues, drops and the OCR stage.
import { api, ago, bytes, el, heading, localTime, showNotice } from "./core.js";
import { refreshState } from "./app.js";

let timer = 0;

export async function renderStatus(main) {
  clearInterval(timer);
  const body = el("div", { id: "status-body" });
  main.replaceChildren(heading("Status"), body);
  await fill(body);
  timer = setInterval(() => document.body.contains(body) ? fill(body, true) : clearInterval(timer), 5000);
}

async function fill(body, quiet = false) {
  let status, overview;
  try {
    [status, overview] = await Promise.all([api("/v1/status"), api("/v1/ui/overview")]);
  } catch (error) {
    if (!quiet) body.replaceChildren(el("p", { role: "alert" }, error.message));
    return;
  }
  const focused = document.activeElement?.id;
  const paused = overview.paused;
  const until = overview.paused_until_ms ? ` until ${localTime(overview.paused_until_ms, false)}` : "";
  const state = status.display_error
    ? `Waiting for the display: ${status.display_error}`
    : paused ? `Paused${until}` : status.disk_low ? "Capture paused: disk almost full" : "Capturing";
  const act = async (path, payload, message) => {
    try {
      await api(path, { method: "POST", body: payload });
      showNotice(message);
      await fill(body, true);
      refreshState();
      document.getElementById(path === "/v1/resume" ? "pause" : "resume")?.focus();
    } catch (error) {
      showNotice(`Failed: ${error.message}`, true);
    }
  };
  const budget = overview.budget_gb * 1e9;
  const used = status.disk_bytes;
  const buttons = paused
    ? [el("button", { type: "button", id: "resume", class: "primary", onclick: () => act("/v1/resume", undefined, "Resumed: the screen is remembered again.") }, "Resume")]
    : [
        el("button", { type: "button", id: "pause", onclick: () => act("/v1/pause", {}, "Paused until you resume.") }, "Pause"),
        el("button", { type: "button", id: "pause-15", onclick: () => act("/v1/pause", { for_s: 900 }, "Paused for 15 minutes.") }, "Pause for 15 min"),
      ];
  const list = (items) => (items.length ? el("ul", { class: "plain" }, items.map((i) => el("li", {}, el("code", {}, i)))) : "none");
  const table = (caption, values) =>
    el(
      "table",
      {},
      el("caption", {}, caption),
      el("tbody", {}, Object.entries(values).sort().map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k.replaceAll("_", " ")), el("td", {}, String(v))))),
    );
  const ocr = Object.fromEntries(Object.entries(status.counters).filter(([k]) => k.startsWith("ocr_") || k === "redactions"));
  const other = Object.fromEntries(Object.entries(status.counters).filter(([k]) => !(k in ocr)));
  body.replaceChildren(
    el("section", { class: "state-card", "aria-labelledby": "state-heading" },
      el("h2", { id: "state-heading" }, "Capture"),
      el("p", { id: "state-text", class: paused ? "paused" : "running" }, state),
      el("div", { class: "actions" }, buttons),
    ),
    el("section", { "aria-labelledby": "memory-heading" },
      el("h2", { id: "memory-heading" }, "Memory"),
      el("dl", { class: "details" },
        el("dt", {}, "Records"), el("dd", { id: "records" }, String(status.records)),
        el("dt", {}, "Last frame"), el("dd", {}, status.last_frame_ms ? `${localTime(status.last_frame_ms)} (${ago(status.last_frame_ms)})` : "never"),
        el("dt", {}, "Disk use"), el("dd", {}, `${bytes(used)}${budget ? ` of ${bytes(budget)} budget` : ""} (readable frames ${bytes(overview.frames_bytes)})`,
          budget ? el("meter", { min: "0", max: String(budget), value: String(Math.min(used, budget)), "aria-label": "Disk budget used" }) : null),
        el("dt", {}, "Free disk"), el("dd", {}, `${bytes(status.free_bytes)} (capture pauses below ${overview.min_free_gb} GB)`),
        el("dt", {}, "Kept for"), el("dd", {}, overview.retention_days ? `${overview.retention_days} days` : "forever"),
        el("dt", {}, "Device"), el("dd", {}, status.device || "—"),
      ),
    ),
    el("section", { "aria-labelledby": "privacy-heading" },
      el("h2", { id: "privacy-heading" }, "Never recorded"),
      el("dl", { class: "details" },
        el("dt", {}, "Apps matching"), el("dd", {}, list(overview.exclude_apps)),
        el("dt", {}, "Titles matching"), el("dd", {}, list(overview.exclude_titles)),
      ),
      el("p", { class: "hint" }, "Set in the config file: privacy.exclude_apps and privacy.exclude_titles."),
    ),
    el("section", { class: "tables", "aria-labelledby": "pipeline-heading" },
      el("h2", { id: "pipeline-heading" }, "Pipeline"),
      table("Queues", status.queues),
      table("Counters", other),
      table("OCR", ocr),
    ),
  );
  if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
}
