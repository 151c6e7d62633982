// Timeline: a day per monitor as a strip of recorded spans (gaps left empty); drag, click or
// use ←/→ to step frame by frame; the chosen frame is shown below, readable.
import { api, duration, el, heading, localDate, localTime, showNotice } from "./core.js";
import { frameCanvas, prefetch, thumbnailImage } from "./frame.js";

const DAY = 86400e3;
const MINUTE = 60e3;
const SPANS = { fit: "Recorded part", day: "Whole day", "6h": "6 hours", "1h": "1 hour", "15m": "15 minutes" };
const SPAN_MS = { day: DAY, "6h": 6 * 3600e3, "1h": 3600e3, "15m": 15 * MINUTE };
const TICK_STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, 3600e3, 3 * 3600e3];

export async function renderTimeline(main, params) {
  const at = Number(params.get("at")) || null;
  const date = params.get("date") || localDate(at ?? Date.now());
  const dayStart = new Date(`${date}T00:00`).getTime();
  const dayEnd = dayStart + DAY - 1;
  const dateInput = el("input", { id: "date", type: "date", value: date });
  const goto = (d, extra = "") => {
    history.pushState({}, "", `/ui/timeline?date=${d}${extra}`);
    window.dispatchEvent(new Event("sr:navigate"));
  };
  dateInput.addEventListener("change", () => dateInput.value && goto(dateInput.value));
  const controls = el(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Day" },
    el("button", { type: "button", onclick: () => goto(localDate(dayStart - DAY / 2)) }, "← Previous day"),
    el("label", { for: "date" }, "Day "),
    dateInput,
    el("button", { type: "button", onclick: () => goto(localDate(dayStart + DAY * 1.5)) }, "Next day →"),
    el("button", { type: "button", id: "now", onclick: () => goto(localDate(Date.now()), `&at=${Date.now()}`) }, "Now"),
  );
  main.replaceChildren(heading("Timeline"), controls, el("p", { role: "status" }, "Loading…"));
  let data;
  try {
    data = await api(`/v1/timeline?since_ms=${dayStart}&until_ms=${dayEnd}`);
  } catch (error) {
    main.replaceChildren(heading("Timeline"), controls, el("p", { role: "alert" }, error.message));
    return;
  }
  const byMonitor = new Map();
  for (const record of data.records.filter((r) => r.source === "screen")) {
    if (!byMonitor.has(record.monitor)) byMonitor.set(record.monitor, []);
    byMonitor.get(record.monitor).push(record);
  }
  if (!byMonitor.size) {
    main.replaceChildren(heading("Timeline"), controls, el("p", { id: "timeline-empty" }, `Nothing was recorded on ${new Date(dayStart).toLocaleDateString()}.`));
    return;
  }
  const monitors = [...byMonitor.keys()].sort((a, b) => a - b);
  const state = { monitor: Number(params.get("monitor")) || monitors[0], index: 0, seq: 0 };
  if (!byMonitor.has(state.monitor)) state.monitor = monitors[0];
  const list = () => byMonitor.get(state.monitor);
  const nearest = (records, ms) => {
    let best = 0;
    records.forEach((r, i) => {
      const d = ms < r.captured_at_ms ? r.captured_at_ms - ms : ms > r.last_seen_ms ? ms - r.last_seen_ms : 0;
      const bestR = records[best];
      const bestD = ms < bestR.captured_at_ms ? bestR.captured_at_ms - ms : ms > bestR.last_seen_ms ? ms - bestR.last_seen_ms : 0;
      if (d < bestD || (d === bestD && r.captured_at_ms <= ms)) best = i;
    });
    return best;
  };
  state.index = at ? nearest(list(), at) : list().length - 1;

  const strips = new Map();
  const rows = monitors.map((monitor) => {
    const canvas = el("canvas", { class: "strip-canvas", "aria-hidden": "true" });
    const strip = el("div", {
      class: "strip",
      id: `strip-${monitor}`,
      role: "slider",
      tabindex: "0",
      "aria-label": `Monitor ${monitor}, frames of the day`,
      "aria-valuemin": "0",
      "aria-valuemax": String(byMonitor.get(monitor).length - 1),
    }, canvas);
    strips.set(monitor, { strip, canvas });
    const pick = (event) => {
      const box = strip.getBoundingClientRect();
      const ms = view.start + ((event.clientX - box.left) / box.width) * (view.end - view.start);
      select(monitor, nearest(byMonitor.get(monitor), ms));
    };
    strip.addEventListener("pointerdown", (event) => {
      strip.setPointerCapture(event.pointerId);
      strip.focus();
      pick(event);
    });
    strip.addEventListener("pointermove", (event) => strip.hasPointerCapture(event.pointerId) && pick(event));
    strip.addEventListener("keydown", (event) => {
      const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1, PageUp: -10, PageDown: 10 };
      const records = byMonitor.get(monitor);
      let index = monitor === state.monitor ? state.index : records.length - 1;
      if (event.key in steps) index += steps[event.key];
      else if (event.key === "Home") index = 0;
      else if (event.key === "End") index = records.length - 1;
      else return;
      event.preventDefault();
      select(monitor, Math.max(0, Math.min(records.length - 1, index)));
    });
    return el("div", { class: "strip-row" }, el("span", { class: "strip-label" }, `Monitor ${monitor}`), strip);
  });
  const all = data.records.filter((r) => r.source === "screen");
  const view = { start: dayStart, end: dayEnd };
  const fit = () => {
    const first = Math.min(...all.map((r) => r.captured_at_ms));
    const last = Math.max(...all.map((r) => r.last_seen_ms));
    const pad = Math.max(5 * MINUTE, (last - first) * 0.05);
    view.start = Math.max(dayStart, first - pad);
    view.end = Math.min(dayEnd, Math.max(last + pad, view.start + 30 * MINUTE));
  };
  fit();
  const hours = el("div", { class: "hours", "aria-hidden": "true" });
  const spanSelect = el("select", { id: "span" }, Object.entries(SPANS).map(([v, t]) => el("option", { value: v }, t)));
  spanSelect.addEventListener("change", () => {
    if (spanSelect.value === "fit") fit();
    else {
      const span = SPAN_MS[spanSelect.value];
      const centre = list()[state.index].captured_at_ms;
      view.start = Math.max(dayStart, Math.min(centre - span / 2, dayEnd - span));
      view.end = view.start + span;
    }
    draw();
  });
  const info = el("p", { class: "frame-info", id: "frame-info", "aria-live": "polite" });
  const gapNote = el("p", { class: "gap-note", id: "gap-note", hidden: true });
  const viewer = el("div", { class: "viewport timeline-view", id: "timeline-frame" });
  const film = el("ul", { class: "film", "aria-label": "Nearby frames" });
  const stepper = el(
    "div",
    { class: "toolbar", role: "toolbar", "aria-label": "Frames" },
    el("button", { type: "button", id: "prev-frame", onclick: () => select(state.monitor, Math.max(0, state.index - 1)) }, "← Previous frame"),
    el("button", { type: "button", id: "next-frame", onclick: () => select(state.monitor, Math.min(list().length - 1, state.index + 1)) }, "Next frame →"),
    el("a", { id: "open-moment", class: "button", "data-link": true, href: "#" }, "Open this moment"),
  );
  main.replaceChildren(
    heading("Timeline"),
    controls,
    el("p", { class: "hint" }, "Click or drag on a strip, or focus it and use ← and → to step frame by frame. Empty stretches are gaps: nothing was recorded (paused, locked, excluded or off)."),
    el("div", { class: "toolbar" }, el("label", { for: "span" }, "Show"), spanSelect),
    el("div", { class: "strips" }, rows, hours),
    stepper,
    info,
    gapNote,
    viewer,
    film,
  );
  if (data.truncated) showNotice("This day has more records than one view shows; the latest are left out.");

  const draw = () => {
    const span = view.end - view.start;
    const step = TICK_STEPS.find((t) => span / t <= 8) ?? 3 * 3600e3;
    hours.replaceChildren();
    for (let t = Math.ceil(view.start / step) * step; t <= view.end; t += step) {
      const label = el("span", {}, localTime(t, false).slice(0, 5));
      label.style.left = `${((t - view.start) / span) * 100}%`; // CSSOM, not a style attribute: allowed by the CSP
      hours.append(label);
    }
    for (const [monitor, { strip, canvas }] of strips) {
      const ratio = window.devicePixelRatio || 1;
      const width = strip.clientWidth || 800;
      canvas.width = width * ratio;
      canvas.height = 40 * ratio;
      const context = canvas.getContext("2d");
      context.scale(ratio, ratio);
      const styles = getComputedStyle(document.body);
      context.fillStyle = styles.getPropertyValue("--gap").trim() || "#ddd";
      context.fillRect(0, 0, width, 40);
      const x = (ms) => ((ms - view.start) / (view.end - view.start)) * width;
      const records = byMonitor.get(monitor);
      context.fillStyle = styles.getPropertyValue("--span").trim() || "#36c";
      for (const r of records) context.fillRect(x(r.captured_at_ms) - 1, 6, Math.max(3, x(r.last_seen_ms) - x(r.captured_at_ms) + 2), 28);
      if (Date.now() < dayEnd) {
        context.fillStyle = styles.getPropertyValue("--future").trim() || "#fff";
        context.fillRect(x(Date.now()), 0, width, 40);
      }
      if (monitor === state.monitor) {
        const r = records[state.index];
        context.fillStyle = styles.getPropertyValue("--cursor").trim() || "#e33";
        context.fillRect(x(r.captured_at_ms) - 1, 0, 3, 40);
      }
    }
  };

  async function select(monitor, index) {
    state.monitor = monitor;
    state.index = index;
    const records = list();
    const record = records[index];
    const seq = ++state.seq;
    for (const [m, { strip }] of strips) {
      const own = m === monitor ? index : byMonitor.get(m).length - 1;
      const r = byMonitor.get(m)[own];
      strip.setAttribute("aria-valuenow", String(own));
      strip.setAttribute("aria-valuetext", `${localTime(r.captured_at_ms, false)}, ${r.app || "unknown app"}: ${r.window_title || ""}`);
    }
    history.replaceState({}, "", `/ui/timeline?date=${date}&monitor=${monitor}&at=${record.captured_at_ms}`);
    draw();
    const label = `Monitor ${monitor} at ${localTime(record.captured_at_ms)}`;
    info.replaceChildren(
      el("strong", {}, localTime(record.captured_at_ms, false)),
      ` – ${localTime(record.last_seen_ms, false)} · frame ${index + 1} of ${records.length} · `,
      record.app ? `${record.app}: ` : "",
      record.window_title || "",
    );
    const previous = records[index - 1];
    const gap = previous ? record.captured_at_ms - previous.last_seen_ms : 0;
    gapNote.hidden = !(gap > data.gap_ms);
    gapNote.textContent = gapNote.hidden ? "" : `Gap: nothing recorded for ${duration(gap)} before this frame.`;
    const open = document.getElementById("open-moment");
    open.href = `/ui/moment/${record.id}`;
    film.replaceChildren(
      ...records.slice(Math.max(0, index - 3), index + 4).map((r) => {
        const i = records.indexOf(r);
        return el(
          "li",
          { class: i === index ? "current" : "" },
          el(
            "button",
            { type: "button", onclick: () => select(monitor, i), "aria-current": i === index ? "true" : null, "aria-label": `Frame at ${localTime(r.captured_at_ms, false)}` },
            el("img", { src: `/v1/records/${r.id}/thumbnail`, alt: "" }),
            el("span", {}, localTime(r.captured_at_ms, false)),
          ),
        );
      }),
    );
    for (const near of [records[index + 1], records[index - 1]]) if (near) prefetch(near.id);
    let picture;
    try {
      picture = (await frameCanvas(record.id, label)) ?? thumbnailImage(record.id, `${label} (thumbnail only)`);
    } catch (error) {
      picture = el("p", { role: "alert" }, error.message);
    }
    if (seq === state.seq) {
      picture.classList.add("fit");
      viewer.replaceChildren(picture);
    }
  }

  window.addEventListener("resize", draw);
  await select(state.monitor, state.index);
  strips.get(state.monitor).strip.focus({ preventScroll: true });
}
