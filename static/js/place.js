/*
 * The listener's place in a document (the page, the audio and the position in it): saved to the
 * server in the order it was reached, and remembered on this device.
 *
 * Every save names this browser (an id it keeps in its storage) and when it was made: the
 * server keeps a save of this browser only when it is later than the one it holds, so the save
 * sent as a page is left cannot undo the next page's. As a page is left the save goes with
 * navigator.sendBeacon, which outlives the page: a form, with the CSRF token among its fields
 * (a beacon sets no headers). The last save is also kept here, for the library: a library
 * rendered before that save arrived sends it again and shows its "Continue listening" anew.
 */

const STORE_DEVICE = "pagecast.device";
const STORE_LAST = "pagecast.place";
// The last save may still be on its way (or lost, with the page that sent it) this long after.
const RECENT_MS = 10 * 60 * 1000;

let device = null;

function storage() {
  try {
    return window.localStorage;
  } catch (error) {
    return null; // storage switched off
  }
}

/** This browser's id for its saves (kept in its storage; for this page only without it). */
export function deviceId() {
  if (device !== null) return device;
  const store = storage();
  try {
    device = (store && store.getItem(STORE_DEVICE)) || "";
  } catch (error) {
    device = "";
  }
  if (!device) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    device = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    try {
      if (store) store.setItem(STORE_DEVICE, device);
    } catch (error) {
      // full or refused: the id lasts for this page
    }
  }
  return device;
}

/** The body of a save (PUT or POST /api/v1/documents/{id}/progress/), made now. */
export function placeBody(page, audio, positionSeconds) {
  return {
    page: page,
    audio: audio,
    position_seconds: positionSeconds,
    device: deviceId(),
    saved_at: new Date().toISOString(),
  };
}

/** Keeps `body`, saved to `url`, as this browser's last save; `confirmed` once the server has it. */
export function remember(url, body, confirmed) {
  const store = storage();
  if (!store) return;
  try {
    store.setItem(STORE_LAST, JSON.stringify({ url: url, body: body, confirmed: Boolean(confirmed) }));
  } catch (error) {
    // full: the library shows what the server had when it was rendered
  }
}

/** Marks the last save as stored by the server (when it is still the last one). */
export function markStored(url, body) {
  const last = lastPlace();
  if (last && last.url === url && last.body.saved_at === body.saved_at) remember(url, body, true);
}

/** This browser's last save ({url, body, confirmed}), or null. */
export function lastPlace() {
  const store = storage();
  let last = null;
  try {
    last = store ? JSON.parse(store.getItem(STORE_LAST) || "null") : null;
  } catch (error) {
    return null;
  }
  const valid =
    last && typeof last.url === "string" && last.body && typeof last.body.saved_at === "string";
  return valid ? last : null;
}

/** Sends the save as a beacon, for a page being left; false when it could not be sent so. */
export function sendBeacon(url, body, csrfToken) {
  if (typeof navigator.sendBeacon !== "function") return false;
  const form = new URLSearchParams();
  form.set("csrfmiddlewaretoken", csrfToken);
  for (const [name, value] of Object.entries(body)) {
    if (value !== null && value !== undefined) form.set(name, String(value));
  }
  try {
    return navigator.sendBeacon(url, form);
  } catch (error) {
    return false;
  }
}

/**
 * Whether a place shown as saved at `shownSavedAt` (ISO 8601; "" for none) may be older than
 * this browser's last save, which is then to be sent again: the last save is recent and the
 * server has not said it has it.
 */
export function mayBeBehind(last, shownSavedAt, now) {
  if (!last || last.confirmed) return false;
  const saved = Date.parse(last.body.saved_at);
  if (!Number.isFinite(saved) || now - saved > RECENT_MS) return false;
  const shown = Date.parse(shownSavedAt || "");
  return !Number.isFinite(shown) || shown < saved;
}
