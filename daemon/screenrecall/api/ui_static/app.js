// The single page: routes /ui/search, /ui/timeline, /ui/moment/ID and /ui/status to their views.
import { api, showNotice } from "./core.js";
import { dropPrefetched } from "./frame.js";
import { renderMoment } from "./moment.js";
import { renderSearch } from "./search.js";
import { renderStatus } from "./status.js";
import { renderTimeline } from "./timeline.js";

const TITLES = { search: "Search", timeline: "Timeline", status: "Status", moment: "Moment" };

async function route() {
  const main = document.getElementById("main");
  const parts = location.pathname.replace(/^\/ui\/?/, "").split("/");
  const view = TITLES[parts[0]] ? parts[0] : "search";
  const params = new URLSearchParams(location.search);
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${TITLES[view]} · screenrecall`;
  dropPrefetched();
  try {
    if (view === "moment") await renderMoment(main, parts[1] ?? "", params);
    else if (view === "timeline") await renderTimeline(main, params);
    else if (view === "status") await renderStatus(main);
    else await renderSearch(main, params);
  } catch (error) {
    showNotice(`Something went wrong: ${error.message}`, true);
  }
  // Move focus to the new view's heading so screen readers announce the page change.
  const title = document.getElementById("view-title");
  if (title && !main.contains(document.activeElement)) title.focus({ preventScroll: true });
  document.body.dataset.ready = view;
}

export async function refreshState() {
  const pill = document.getElementById("capture-state");
  try {
    const state = await api("/v1/ui/overview");
    pill.textContent = state.paused ? "Paused" : "Recording";
    pill.className = `pill ${state.paused ? "paused" : "running"}`;
  } catch {
    pill.textContent = "Daemon unreachable";
    pill.className = "pill paused";
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-link], nav a");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui/")) return;
  event.preventDefault();
  history.pushState({}, "", url.pathname + url.search);
  route();
});
window.addEventListener("popstate", route);
window.addEventListener("sr:navigate", route);
refreshState();
setInterval(refreshState, 15000);
route();
