/*
 * Continuous play: a document's pages in reading order, each with its audio in one voice or the
 * reason it has none, and the next page's text brought into the open reader without a page load.
 *
 * The server decides everything here (order, permissions, quota); this module keeps the list,
 * says which pages to ask audio for next, and words why a page is passed over.
 */

/** The pages still to ask audio for: the next `ahead` pages after `index` that have none made. */
export function pagesToRequest(entries, index, ahead) {
  return entries
    .slice(index + 1, index + 1 + Math.max(0, ahead))
    .filter((entry) => !entry.audio && entry.reason === "not_made" && !entry.requested);
}

/** Applies the bulk endpoint's answer ({results: [{page, outcome, audio}]}) to the entries. */
export function applyResults(entries, results) {
  for (const result of Array.isArray(results) ? results : []) {
    const pageId = result && typeof result.page === "object" && result.page ? result.page.id : result.page;
    const entry = entries.find((item) => item.page.id === Number(pageId));
    if (!entry) continue;
    if (result.audio) {
      entry.audio = result.audio;
      entry.reason = null;
    } else if (result.outcome) {
      entry.reason = result.outcome;
    }
  }
}

/** Why a page is passed over, in the server's words (`strings`), or "" when it can be played. */
export function passedOver(entry, strings, format) {
  const values = { number: entry.page.number, title: entry.page.title || "" };
  if (entry.audio) {
    return entry.audio.status === "failed" ? format(strings.listenFailed, values) : "";
  }
  const template = {
    no_text: strings.listenNoText,
    not_permitted: strings.listenNotPermitted,
    quota_exceeded: strings.listenQuota,
    skipped_contents: strings.listenContents,
  }[entry.reason];
  return format(template || strings.listenNotMade, values);
}

/** A stand-in for an audio's row in the page's list, for a listener who has no list template
 * (one who may not make audio): the player needs only its data. */
export function detachedRow(data) {
  const row = document.createElement("li");
  row.dataset.audioId = String(data.id);
  row.dataset.voice = data.voice;
  row.dataset.voiceName = data.voice_display_name || data.voice;
  row.dataset.duration = data.duration_seconds === null ? "" : String(data.duration_seconds);
  row.dataset.position = "0";
  if (data.download_url) row.dataset.downloadUrl = data.download_url;
  if (data.outdated) row.dataset.outdated = "1";
  return row;
}

/** The entry a playlist starts at: the page asked for, else its first. */
export function startIndex(entries, pageId) {
  const found = entries.findIndex((entry) => entry.page.id === Number(pageId));
  return found < 0 ? 0 : found;
}

// Parts of the reader that belong to the page, swapped in from the next page's rendering. The
// player, its audio element and every listener stay: they live outside these parts, or on
// elements kept in place whose children change.
const INNER = [
  ".reader-header",
  ".reader-pages",
  "#reader-formatted",
  "#reader-audio-list",
  "#reader-voice",
];
const TEXT = ["#reader-quota", "#reader-status", "#reader-generate-status", "#reader-edit-status"];

/** Fetches a page of the reader as the server renders it; null when it cannot. */
export async function fetchReaderPage(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch (error) {
    return null;
  }
  if (!response.ok) return null;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  return fresh.getElementById("reader-data") ? fresh : null;
}

/** Shows the page `fresh` (a parsed reader page) in `here`; returns its reader data. */
export function swapPage(fresh, here) {
  for (const selector of INNER) {
    const from = fresh.querySelector(selector);
    const to = here.querySelector(selector);
    // The server's sanitiser made the page's HTML safe, as when the page itself is loaded.
    if (from && to) {
      to.innerHTML = from.innerHTML;
      // Each page says its own language and direction (an Arabic page after an English one).
      for (const name of ["lang", "dir"]) {
        if (from.hasAttribute(name)) to.setAttribute(name, from.getAttribute(name));
        else to.removeAttribute(name);
      }
    }
  }
  for (const selector of TEXT) {
    const from = fresh.querySelector(selector);
    const to = here.querySelector(selector);
    if (from && to) to.textContent = from.textContent;
  }
  const empty = here.getElementById("reader-audios-empty");
  const freshEmpty = fresh.getElementById("reader-audios-empty");
  if (empty && freshEmpty) empty.hidden = freshEmpty.hidden;
  const generate = here.getElementById("reader-generate-button");
  const freshGenerate = fresh.getElementById("reader-generate-button");
  if (generate && freshGenerate) generate.disabled = freshGenerate.disabled;
  const form = here.getElementById("reader-edit-form");
  const freshForm = fresh.getElementById("reader-edit-form");
  if (form && freshForm) {
    form.action = freshForm.getAttribute("action");
    form.dataset.previewUrl = freshForm.dataset.previewUrl;
    here.getElementById("reader-markdown").value = fresh.getElementById("reader-markdown").value;
    const errors = here.getElementById("reader-edit-errors");
    if (errors) errors.remove();
    here.getElementById("reader-preview").hidden = true;
    here.getElementById("reader-edit").open = false;
  }
  here.title = fresh.title;
  return JSON.parse(fresh.getElementById("reader-data").textContent);
}
