/*
 * The document page: "Make audio for every page" through the API, and the progress of that audio
 * and of audiobooks being made, updated without a reload. Without this script the form posts to
 * the server and the page shows the status of the moment it was loaded.
 */
import { bookLabel, follow, progressLabel, show } from "./progress.js";

(function () {
  "use strict";

  const stringsElement = document.getElementById("making-strings");
  const shared = window.Pagecast;
  if (!stringsElement || !shared) {
    return;
  }
  const t = JSON.parse(stringsElement.textContent);
  const BOOK_BUSY = new Set(["pending", "generating"]);

  // --- Audio for every page ------------------------------------------------------------------

  let stopPages = null;

  function progressUrl(element, voice) {
    return `${element.dataset.progressUrl}?${new URLSearchParams({ voice: voice })}`;
  }

  function followPages(voice, { announceEnd }) {
    const start = document.getElementById("audio-progress");
    if (!start) return;
    if (stopPages) stopPages();
    start.dataset.voice = voice;
    stopPages = follow(progressUrl(start, voice), shared.api, (progress) => {
      // (Looked up each time: a refresh of the page's parts may have replaced it.)
      const element = document.getElementById("audio-progress");
      if (!element || element.dataset.voice !== voice) return true; // another voice since
      show(element, progress.pages_done, progress.pages_total, progressLabel(progress, t));
      element.toggleAttribute("data-running", !progress.finished);
      if (!progress.finished) return false;
      if (announceEnd) {
        shared.announce(t.finished);
        // The pages' own badges ("Audio being made") are the server's to redraw.
        shared.refreshRegions(["document-pages"]);
      }
      return true;
    }, (progress) => `${progress.pages_done}/${progress.pages_in_progress}/${progress.pages_failed}`);
  }

  function rememberVoice(voice) {
    // A reload (or a refreshed part of the page) shows the same voice's progress.
    const url = new URL(window.location.href);
    url.searchParams.set("voice", voice);
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.makeAudio) {
      return;
    }
    event.preventDefault();
    if (form.hasAttribute("aria-busy")) {
      return;
    }
    const voice = form.elements.voice.value;
    const errorBox = form.querySelector("[data-form-error]");
    const button = form.querySelector("button[type=submit]");
    errorBox.textContent = "";
    form.setAttribute("aria-busy", "true");
    button.disabled = true;
    const result = await shared.api(form.dataset.makeAudio, {
      method: "POST",
      body: { voice: voice, pages: "all" },
    });
    form.removeAttribute("aria-busy");
    button.disabled = false;
    if (!result.ok) {
      errorBox.textContent = result.message;
      return;
    }
    rememberVoice(voice);
    shared.announce(t.started);
    followPages(voice, { announceEnd: true });
  });

  document.addEventListener("change", (event) => {
    // The status follows the voice chosen in the form.
    if (event.target.id === "make-audio-voice") {
      rememberVoice(event.target.value);
      followPages(event.target.value, { announceEnd: false });
    }
  });

  // --- Audiobooks being made -----------------------------------------------------------------

  function followBooks() {
    for (const row of document.querySelectorAll("[data-audiobook-url]")) {
      if (row.dataset.following) continue;
      row.dataset.following = "true";
      follow(row.dataset.audiobookUrl, shared.api, (book) => {
        if (!row.isConnected) return true;
        if (BOOK_BUSY.has(book.status)) {
          show(row, book.pages_done, book.pages_total, bookLabel(book, t));
          return false;
        }
        // Finished or failed: the server draws the row (the download, or the reason), and the
        // pages whose audio the book made.
        shared.announce(book.status === "completed" ? t.bookFinished : t.bookFailed);
        shared.refreshRegions(["audiobook", "audio-progress", "document-pages"]).then(followBooks);
        return true;
      }, (book) => `${book.status}/${book.pages_done}`);
    }
  }

  // --- Start ---------------------------------------------------------------------------------

  const pages = document.getElementById("audio-progress");
  if (pages && pages.hasAttribute("data-running")) {
    followPages(pages.dataset.voice, { announceEnd: true });
  }
  followBooks();
})();
