/*
 * The library's "Continue listening", kept to this browser's latest place.
 *
 * A page being left saves the place with a beacon, which the server may get only after it has
 * rendered the library the listener went to (or, back in history, the library may come from the
 * browser's memory). When this browser's last save (place.js) is newer than what the section
 * shows, it is sent again (the server keeps the later of the two) and the section is rendered
 * anew from the server.
 */
import { lastPlace, markStored, mayBeBehind } from "./place.js";

const REGION = "continue-places";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function shownSavedAt(url) {
  const region = document.getElementById(REGION);
  const items = region ? region.querySelectorAll(".continue-item[data-progress-url]") : [];
  const item = Array.from(items).find((element) => element.dataset.progressUrl === url);
  return item ? item.dataset.savedAt : "";
}

async function resend(last) {
  try {
    const response = await fetch(last.url, {
      method: "PUT",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(last.body),
    });
    return response.status;
  } catch (error) {
    return 0; // not reached: tried again on the next visit
  }
}

async function rerender() {
  let response;
  try {
    response = await fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    });
  } catch (error) {
    return;
  }
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const replacement = fresh.getElementById(REGION);
  const region = document.getElementById(REGION);
  if (!replacement || !region) return;
  const hadFocus = region.contains(document.activeElement);
  const node = document.importNode(replacement, true);
  region.replaceWith(node);
  if (hadFocus) {
    const link = node.querySelector("a");
    if (link) link.focus();
  }
}

let checking = false;

async function check() {
  const last = lastPlace();
  if (checking || !document.getElementById(REGION)) return;
  if (!mayBeBehind(last, shownSavedAt(last ? last.url : ""), Date.now())) return;
  checking = true;
  try {
    const status = await resend(last);
    // (Refused for good, such as an audio deleted since, it is not sent again either.)
    if (status && status < 500) markStored(last.url, last.body);
    if (status >= 200 && status < 300) await rerender();
  } finally {
    checking = false;
  }
}

check();
// Back in history, the library may be shown from the browser's memory, as it was.
window.addEventListener("pageshow", (event) => {
  if (event.persisted) check();
});
