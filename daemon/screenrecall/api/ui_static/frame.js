// Draws a readable frame: its keyframe, then the record's own tiles from the atlas.
import { api, el } from "./core.js";

const keys = new Map(); // decoded keyframes, a few only (memory, not the disk cache: no-store)
const KEPT = 4;

async function bitmap(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return createImageBitmap(await response.blob());
}

function inlineBitmap(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return createImageBitmap(new Blob([bytes], { type: "image/webp" }));
}

async function keyBitmap(layout) {
  let found = keys.get(layout.key);
  if (!found) {
    found = bitmap(layout.key_url);
    keys.set(layout.key, found);
    while (keys.size > KEPT) keys.delete(keys.keys().next().value);
    found.catch(() => keys.delete(layout.key));
  }
  return found;
}

const ahead = new Map(); // layouts fetched before they are asked for (the timeline's neighbours)

/** Starts fetching a frame's layout and keyframe now, so stepping to it is instant. */
export function prefetch(recordId) {
  if (ahead.has(recordId)) return;
  const layout = api(`/v1/records/${recordId}/frame`);
  layout.then((found) => keyBitmap(found)).catch(() => ahead.delete(recordId));
  ahead.set(recordId, layout);
  while (ahead.size > 8) ahead.delete(ahead.keys().next().value);
}

/** Drops everything fetched ahead (on every page change: a forget may have happened). */
export function dropPrefetched() {
  ahead.clear();
}

/** Resolves to a canvas holding the record's frame, or null when it has none (use the thumbnail). */
export async function frameCanvas(recordId, label) {
  let layout;
  try {
    const early = ahead.get(recordId);
    ahead.delete(recordId); // used once: a frame forgotten meanwhile must not linger
    layout = await (early ?? api(`/v1/records/${recordId}/frame`));
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
  const tiles = layout.atlas_b64 ? inlineBitmap(layout.atlas_b64) : layout.atlas_url ? bitmap(layout.atlas_url) : null;
  const [key, atlas] = await Promise.all([keyBitmap(layout), tiles]);
  const canvas = el("canvas", { class: "frame", role: "img", "aria-label": label });
  canvas.width = layout.width;
  canvas.height = layout.height;
  canvas.dataset.recordId = recordId;
  const context = canvas.getContext("2d");
  context.drawImage(key, 0, 0);
  if (atlas) {
    const size = layout.tile;
    const columns = Math.min(16, layout.tiles.length);
    const perRow = Math.ceil(layout.width / size);
    layout.tiles.forEach((tile, slot) => {
      const x = (tile % perRow) * size;
      const y = Math.floor(tile / perRow) * size;
      const w = Math.min(size, layout.width - x);
      const h = Math.min(size, layout.height - y);
      context.drawImage(atlas, (slot % columns) * size, Math.floor(slot / columns) * size, w, h, x, y, w, h);
    });
  }
  return canvas;
}

export function thumbnailImage(recordId, label) {
  return el("img", { class: "frame thumb-only", src: `/v1/records/${recordId}/thumbnail`, alt: label });
}
