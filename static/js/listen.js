/*
 * Continuous play: one press plays from a page to the document's last. The playlist says each
 * page's audio in one voice, or why it has none; the audio of the pages ahead is asked for while
 * one plays; the next page's text comes in without a page load, under its own URL.
 *
 * The reader page wires it to its player (see reader.js): `player` gives the page's data and
 * strings, its API call, and the player's own functions (load an audio row, play, follow an audio
 * being made, save the place).
 */
import {
  applyResults,
  detachedRow,
  fetchReaderPage,
  pagesToRequest,
  passedOver,
  startIndex,
  swapPage,
} from "./playlist.js";

export function continuousPlay(player) {
  const { config, t, format, api, announce, urlFor } = player;
  const button = document.getElementById("reader-listen");
  const status = document.getElementById("reader-listen-status");
  const turn = document.getElementById("reader-turn");
  const nowText = document.getElementById("reader-now");
  // {voice, entries, index}: the playlist being played; null when one page plays on its own.
  let listening = null;

  function show() {
    if (button) button.setAttribute("aria-pressed", listening ? "true" : "false");
  }

  function stop() {
    listening = null;
    show();
  }

  function playlistUrl(fromPageId, voice) {
    const url = new URL(config.playlistUrl, window.location.href);
    url.searchParams.set("voice", voice);
    url.searchParams.set("from_page", String(fromPageId));
    return url.toString();
  }

  async function start(fromPageId, voice) {
    const result = await api("GET", playlistUrl(fromPageId, voice));
    if (!result.ok || !result.data || !Array.isArray(result.data.pages)) {
      if (fromPageId !== config.pageId) {
        player.loadPage(urlFor(config.readerUrl, fromPageId), voice);
      } else {
        announce(result.message || t.errorGeneric, status);
      }
      return;
    }
    listening = { voice: result.data.voice || voice, entries: result.data.pages, index: -1 };
    show();
    await playFrom(startIndex(listening.entries, fromPageId), fromPageId === config.pageId);
  }

  async function requestAudio(entries) {
    if (!entries.length || !listening) return;
    for (const entry of entries) entry.requested = true;
    const playlist = listening;
    const result = await api("POST", config.documentAudiosUrl, {
      voice: playlist.voice,
      pages: entries.map((entry) => entry.page.id),
    });
    if (result.ok && result.data) {
      applyResults(playlist.entries, result.data.results);
    }
  }

  async function showPage(pageId) {
    if (pageId === config.pageId) return true;
    const url = urlFor(config.readerUrl, pageId);
    const fresh = await fetchReaderPage(url);
    if (!fresh) return false;
    player.savePosition();
    Object.assign(config, swapPage(fresh, document));
    window.history.pushState({ readerPage: pageId }, "", url);
    window.scrollTo(0, 0);
    return true;
  }

  async function playFrom(index, resume = false) {
    const playlist = listening;
    const ahead = Number(config.listenAhead) || 0;
    const skipped = [];
    for (let at = index; playlist === listening && at < playlist.entries.length; at += 1) {
      const entry = playlist.entries[at];
      if (!entry.audio && entry.reason === "not_made") {
        // This page's audio, and (in the same request) that of the pages ahead.
        await requestAudio([entry, ...pagesToRequest(playlist.entries, at, ahead)]);
      }
      const why = passedOver(entry, t, format);
      if (why) {
        skipped.push(why);
        announce(skipped.join(" · "), status);
        continue;
      }
      playlist.index = at;
      const turned = entry.page.id !== config.pageId;
      if (!(await showPage(entry.page.id))) {
        stop();
        player.loadPage(urlFor(config.readerUrl, entry.page.id), playlist.voice);
        return;
      }
      if (playlist !== listening) return; // stopped meanwhile
      const data = entry.audio;
      const streaming = data.status !== "completed";
      const current = player.current();
      if (current && current.id === data.id && !current.streaming && !streaming) {
        player.play(); // the page's audio is already in the player: on from where it is
      } else {
        const row = player.rowFor(data.id) || player.upsertRow(data) || detachedRow(data);
        // The open page resumes where this person stopped; the pages after it start at the top.
        player.load(row, { autoplay: true, fromStart: !(resume && at === index), streaming });
      }
      nowText.textContent = format(entry.page.title ? t.listenNow : t.listenNowUntitled, {
        number: entry.page.number,
        title: entry.page.title,
        voice: data.voice,
      });
      // A new page is said by screen readers (the line above is not a live region: it changes
      // with every audio chosen).
      if (turned) announce(nowText.textContent, turn);
      if (!skipped.length) announce("", status);
      if (streaming) player.follow(data.id);
      requestAudio(pagesToRequest(playlist.entries, at, ahead));
      return;
    }
    if (playlist === listening) {
      stop();
      announce(skipped.concat([t.listenEnd]).join(" · "), status);
    }
  }

  if (button && config.playlistUrl) {
    button.hidden = false;
    show();
    button.addEventListener("click", () => {
      if (listening) {
        stop();
      } else {
        const current = player.current();
        start(config.pageId, current ? current.voice : config.voice);
      }
    });
  }

  return {
    /** Whether a playlist is being played. */
    isOn: () => listening !== null,
    /** Plays from `fromPageId` (this page, or the next one) to the last page. */
    start: start,
    /** Plays the playlist's next page that can be played. */
    next: () => (listening ? playFrom(listening.index + 1) : Promise.resolve()),
  };
}
