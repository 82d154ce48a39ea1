/*
 * Continuous play: one press plays from a page to the document's last. The playlist says each
 * page's audio in one voice, or why it has none; the audio of the pages ahead is asked for while
 * one plays; the next page's text comes in without a page load, under its own URL.
 *
 * The reader page wires it to its player (see reader.js): `player` gives the page's data and
 * strings, its API call, and the player's own functions (load an audio row, play, pause, follow
 * an audio being made, save the place).
 *
 * The "Listen to the end" button is a toggle: pressed (aria-pressed, and its words say so) from
 * the press until the last page has played or the listener stops it, which also pauses.
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
  const offLabel = button ? button.textContent : "";

  function show() {
    if (!button) return;
    const on = listening !== null;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? t.listenOn : offLabel;
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

  function askEarly(pageId, voice) {
    // The open page, with no audio in this voice, is asked for beside the playlist rather than
    // after it: its first sentence is heard one request sooner.
    if (pageId !== config.pageId || !player.mayGenerate || player.hasAudio(voice)) return null;
    return api("POST", config.documentAudiosUrl, { voice: voice, pages: [pageId] });
  }

  async function start(fromPageId, voice) {
    const playlist = { voice: voice, entries: [], index: -1 };
    listening = playlist;
    show(); // pressed from the press on, while the playlist comes
    const early = askEarly(fromPageId, voice);
    const result = await api("GET", playlistUrl(fromPageId, voice));
    if (playlist !== listening) return; // stopped meanwhile
    if (!result.ok || !result.data || !Array.isArray(result.data.pages)) {
      stop();
      if (fromPageId !== config.pageId) {
        player.loadPage(urlFor(config.readerUrl, fromPageId), voice);
      } else {
        announce(result.message || t.errorGeneric, status);
      }
      return;
    }
    playlist.voice = result.data.voice || voice;
    playlist.entries = result.data.pages;
    if (early) {
      const made = await early;
      if (playlist !== listening) return;
      if (made.ok && made.data) applyResults(playlist.entries, made.data.results);
    }
    await playFrom(startIndex(playlist.entries, fromPageId), fromPageId === config.pageId);
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
      // (The page's own list, just brought in, knows best whether its audio is outdated.)
      const row = player.rowFor(data.id) || player.upsertRow(data) || detachedRow(data);
      if (current && current.id === data.id && !current.streaming && !streaming) {
        player.play(); // the page's audio is already in the player: on from where it is
      } else {
        // The open page resumes where this person stopped; the pages after it start at the top.
        player.load(row, { autoplay: true, fromStart: !(resume && at === index), streaming });
      }
      // Made before its page was edited: it plays, says so, and read-along is not offered
      // (the player does not ask for its timings).
      const outdated = row.dataset.outdated === "1";
      const now = format(entry.page.title ? t.listenNow : t.listenNowUntitled, {
        number: entry.page.number,
        title: entry.page.title,
        voice: data.voice_display_name || data.voice,
      });
      nowText.textContent = outdated ? format(t.listenNowOutdated, { now: now }) : now;
      nowText.toggleAttribute("data-outdated", outdated);
      // A new page is said by screen readers (the line above is not a live region: it changes
      // with every audio chosen), and so is outdated audio.
      if (turned || outdated) announce(nowText.textContent, turn);
      if (skipped.length && outdated) {
        // The reasons take the line of "Now playing": the note goes with them.
        skipped.push(format(t.listenOutdated, { number: entry.page.number }));
        announce(skipped.join(" · "), status);
      } else if (!skipped.length) {
        announce("", status);
      }
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
        player.pause(); // "Stop": the page being heard stops too
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
    next: () =>
      listening && listening.entries.length ? playFrom(listening.index + 1) : Promise.resolve(),
  };
}
