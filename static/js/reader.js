/*
 * The reader page: the audio player, making audio, deleting audio, and the editor's preview.
 *
 * The page passes its data in the JSON element #reader-data (no inline script: the Content
 * Security Policy forbids it) and every message shown here comes translated from the server.
 * Calls go to the same API as every other client, with the session cookie and the CSRF token.
 */
import { continuousPlay } from "./listen.js";
import { detachedRow } from "./playlist.js";
import { markStored, placeBody, remember, sendBeacon } from "./place.js";
import { seekBar } from "./seekbar.js";
import { feedStream } from "./stream.js";
import { readAlong } from "./readalong.js";

(function () {
  "use strict";

  const dataElement = document.getElementById("reader-data");
  if (!dataElement) {
    return;
  }
  const config = JSON.parse(dataElement.textContent);
  const t = config.strings;

  const SKIP_SECONDS = 15;
  const SAVE_EVERY_MS = 30000;
  const POLL_FIRST_MS = 700;
  const POLL_MAX_MS = 3000;
  const STORE_SPEED = "pagecast.reader.speed";
  const STORE_CONTINUE = "pagecast.reader.continue";

  const byId = (id) => document.getElementById(id);

  // --- Small helpers ------------------------------------------------------------------------

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, (match, name) =>
      Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match
    );
  }

  function clock(seconds) {
    const whole = Math.max(0, Math.round(Number.isFinite(seconds) ? seconds : 0));
    const hours = Math.floor(whole / 3600);
    const minutes = Math.floor((whole % 3600) / 60);
    const secs = String(whole % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
  }

  function urlFor(template, id) {
    // The server gives each URL for the id 0 ("/api/v1/audios/0/played/").
    return template.replace("/0/", `/${Number(id)}/`);
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function stored(key, fallback) {
    try {
      const value = window.localStorage.getItem(key);
      return value === null ? fallback : value;
    } catch (error) {
      return fallback; // storage switched off: nothing is remembered
    }
  }

  function store(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      // storage switched off or full: the choice lasts for this page only
    }
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) {
      return meta.content;
    }
    const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
    if (cookie) {
      return decodeURIComponent(cookie.slice("csrftoken=".length));
    }
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function errorMessage(response, data) {
    const envelope = data && data.error ? data.error : null;
    if (response.status === 429) {
      // The server says how long to wait in words ("about 45 minutes").
      return envelope && envelope.message ? envelope.message : t.errorRateLimited;
    }
    if (envelope && envelope.message) {
      return envelope.message; // written for people, and translated, by the server
    }
    if (response.status === 409) return t.errorConflict;
    if (response.status === 403) {
      return envelope && envelope.code === "quota_exceeded" ? t.errorQuota : t.errorPermission;
    }
    if (response.status === 503) return t.errorUnavailable;
    return t.errorGeneric;
  }

  async function api(method, url, body, options) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (options && options.keepalive) {
      init.keepalive = true; // finishes even when the page is being left
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      return { ok: false, status: 0, data: null, message: t.errorNetwork };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    return {
      ok: response.ok,
      status: response.status,
      data: data,
      message: response.ok ? "" : errorMessage(response, data),
    };
  }

  const pageStatus = byId("reader-status");

  function announce(text, element) {
    const target = element || pageStatus;
    if (!target) return;
    // Emptying first makes a repeated message be announced again.
    target.textContent = "";
    window.requestAnimationFrame(() => {
      target.textContent = text;
    });
  }

  // --- The player -----------------------------------------------------------------------------

  const audio = byId("reader-audio");
  const toggleButton = byId("reader-toggle");
  const backButton = byId("reader-back");
  const forwardButton = byId("reader-forward");
  const seekbar = byId("reader-seekbar");
  const timeText = byId("reader-time");
  const speedSelect = byId("reader-speed");
  const continueBox = byId("reader-continue");
  const nowText = byId("reader-now");
  const list = byId("reader-audio-list");
  const emptyText = byId("reader-audios-empty");

  // The audio in the player: {id, voice, voiceName, row, played}; null when there is none.
  let current = null;
  let startAt = 0;
  let lastSaved = -1;
  let saveTimer = null;
  let dragging = false;
  // Stops feeding the element the stream it plays (stream.js); null when it plays a file.
  let stopFeeding = null;

  function rowFor(id) {
    return list ? list.querySelector(`.reader-audio[data-audio-id="${Number(id)}"]`) : null;
  }

  function hasAudioIn(voice) {
    // Made, being made, or outdated (which asking again would replace): not failed.
    return Boolean(list) && Array.from(list.querySelectorAll(".reader-audio")).some(
      (row) => row.dataset.voice === voice && row.dataset.status !== "failed"
    );
  }

  function setControls(enabled) {
    for (const control of [toggleButton, backButton, forwardButton, seekbar]) {
      control.disabled = !enabled;
    }
  }

  function duration() {
    if (Number.isFinite(audio.duration) && audio.duration > 0) {
      return audio.duration;
    }
    return current ? parseFloat(current.row.dataset.duration) || 0 : 0;
  }

  // The bar: the position, and what can be played (while it is made, what is made so far).
  const seek = seekBar({
    audio: audio,
    seekbar: seekbar,
    status: byId("reader-seek-status"),
    t: t,
    format: format,
    clock: clock,
    streaming: () => Boolean(current && current.streaming),
    // (Once made, its length as the server gave it, before the element has all of it.)
    total: () => Math.max(duration(), current ? parseFloat(current.row.dataset.duration) || 0 : 0),
  });

  function showTime() {
    const total = duration();
    const position = audio.currentTime || 0;
    seek.show(dragging);
    // While it is made, the length is not known yet (only that of what came so far): the
    // position alone.
    const streamingNow = current && current.streaming;
    timeText.textContent = streamingNow ? clock(position) : `${clock(position)} / ${clock(total)}`;
  }

  function showToggle() {
    toggleButton.textContent = audio.paused ? t.play : t.pause;
  }

  function applySpeed() {
    const rate = parseFloat(speedSelect.value) || 1;
    // Faster or slower, the voice keeps its pitch.
    audio.preservesPitch = true;
    audio.defaultPlaybackRate = rate;
    audio.playbackRate = rate;
  }

  function resumePosition(row) {
    const position = parseFloat(row.dataset.position) || 0;
    const total = parseFloat(row.dataset.duration) || 0;
    // Finished last time: start again from the beginning.
    return total && position >= total - 1 ? 0 : position;
  }

  function applyStart() {
    if (startAt > 0 && startAt < duration()) {
      audio.currentTime = startAt;
    }
    startAt = 0;
    applySpeed();
    showTime();
  }

  function play() {
    const started = audio.play();
    if (started && typeof started.catch === "function") {
      started.catch(() => announce(t.pressPlay));
    }
  }

  function markCurrent() {
    if (!list) return;
    for (const row of list.querySelectorAll(".reader-audio")) {
      if (current && row === current.row) {
        row.setAttribute("aria-current", "true");
      } else {
        row.removeAttribute("aria-current");
      }
    }
  }

  // `leaving`: the page is being hidden or left (the save then goes as a beacon).
  function savePosition(leaving) {
    if (!current || !current.played) return;
    const position = audio.ended ? duration() : audio.currentTime || 0;
    if (Math.abs(position - lastSaved) < 0.5) return;
    lastSaved = position;
    current.row.dataset.position = position.toFixed(3);
    const seconds = Math.round(position * 1000) / 1000;
    if (!current.streaming) {
      // (An audio still being made has no play to record yet; its place below is kept.)
      api("POST", urlFor(config.playedUrl, current.id), { position_seconds: seconds }, { keepalive: true });
    }
    // The place in the whole document, for resuming on any device and "continue listening".
    // (Each save says when it was made: one that arrives late does not undo a later one.)
    if (config.progressUrl) {
      const url = config.progressUrl;
      const body = placeBody(config.pageId, current.id, seconds);
      remember(url, body, false);
      if (!(leaving === true && sendBeacon(url, body, csrfToken()))) {
        api("PUT", url, body, { keepalive: true }).then((result) => {
          if (result.ok) markStored(url, body);
        });
      }
    }
  }

  function setSource(url, streaming) {
    if (stopFeeding) {
      stopFeeding(); // (its requests end)
      stopFeeding = null;
    }
    if (streaming) {
      audio.dataset.stream = url;
      // (The audio's parts as they are stored; its one-response stream where that cannot be.)
      stopFeeding = feedStream(audio, { parts: urlFor(config.partsUrl, current.id), stream: url });
    } else {
      delete audio.dataset.stream;
      if (url) {
        audio.src = url;
      } else {
        audio.removeAttribute("src");
      }
    }
  }

  function load(row, options) {
    if (current) {
      savePosition();
    }
    current = {
      id: Number(row.dataset.audioId),
      voice: row.dataset.voice,
      // The voice as people see it (the server's display name); its id when not given.
      voiceName: row.dataset.voiceName || row.dataset.voice,
      row: row,
      played: false,
      // Listening while it is made: the stream goes on into the made file, to its end.
      streaming: Boolean(options.streaming),
    };
    lastSaved = -1;
    seek.reset(); // a skip that waited was one in the audio before
    startAt = options.fromStart ? 0 : resumePosition(row);
    if (options.streaming || audio.dataset.audioId !== String(current.id)) {
      setSource(
        options.streaming ? urlFor(config.streamUrl, current.id) : row.dataset.downloadUrl,
        Boolean(options.streaming)
      );
      audio.dataset.audioId = String(current.id);
    } else if (audio.readyState >= HTMLMediaElement.HAVE_METADATA) {
      applyStart(); // already loaded (before this script ran): loadedmetadata will not come
    }
    // Made before the page was edited: it still plays, but its timings no longer match the
    // page, so reading along is not offered (and not asked for).
    const outdated = row.dataset.outdated === "1";
    nowText.textContent = format(outdated ? t.nowPlayingOutdated : t.nowPlaying, { voice: current.voiceName });
    nowText.toggleAttribute("data-outdated", outdated);
    setControls(true);
    markCurrent();
    showTime();
    if (outdated) {
      clearFollow();
    } else {
      loadTimings(current.id);
    }
    if (options.autoplay) {
      play();
    }
  }

  function unload() {
    current = null; // first: pausing must not save a position for an audio that is gone
    audio.pause();
    setSource(null, false);
    delete audio.dataset.audioId;
    audio.load();
    nowText.textContent = t.noAudio;
    nowText.removeAttribute("data-outdated");
    setControls(false);
    markCurrent();
    clearFollow();
    timeText.textContent = "0:00 / 0:00";
    seekbar.value = "0";
    seek.reset();
    seek.show(false);
  }

  function togglePlay() {
    if (!current) return;
    if (audio.paused) {
      play();
    } else {
      audio.pause();
    }
  }

  function skip(seconds) {
    if (!current) return;
    seek.by(seconds); // (past what is made so far: from there once it is made)
    showTime();
  }

  function goToNextPage() {
    if (continuous.isOn()) {
      continuous.next();
      return;
    }
    if (!continueBox.checked || !config.nextUrl || !current) return;
    continuous.start(config.nextPageId, current.voice);
  }

  function loadPage(pageUrl, voice) {
    // Without the playlist, the next page the old way: a page load that starts playing.
    const url = new URL(pageUrl, window.location.href);
    url.searchParams.set("autoplay", "1");
    url.searchParams.set("voice", voice);
    announce(t.nextPage);
    window.location.assign(url.toString());
  }

  // Continuous play (listen.js): the page's player, as that module needs it.
  const continuous = continuousPlay({
    config: config,
    t: t,
    format: format,
    api: api,
    announce: announce,
    urlFor: urlFor,
    current: () => current,
    rowFor: rowFor,
    upsertRow: upsertRow,
    load: load,
    play: play,
    pause: () => audio.pause(),
    mayGenerate: Boolean(byId("reader-generate-form")),
    hasAudio: hasAudioIn,
    follow: follow,
    savePosition: savePosition,
    loadPage: loadPage,
  });

  // The player's menu closes with Escape (focus back on its button) and on a click elsewhere.
  const moreMenu = byId("reader-more");
  if (moreMenu) {
    moreMenu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && moreMenu.open) {
        moreMenu.open = false;
        moreMenu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (moreMenu.open && event.target instanceof Node && !moreMenu.contains(event.target)) {
        moreMenu.open = false;
      }
    });
  }

  // The page keeps room under its text for the bar as tall as the bar really is (it wraps
  // differently with the width, the font size and the language).
  const bar = byId("reader-player");
  if (bar && "ResizeObserver" in window) {
    new ResizeObserver(() => {
      const height = Math.ceil(bar.getBoundingClientRect().height);
      document.documentElement.style.setProperty("--reader-bar-room", `${height}px`);
    }).observe(bar);
  }

  // Back and forward through pages shown here load them as they are.
  window.addEventListener("popstate", () => window.location.reload());

  // --- Reading along ---------------------------------------------------------------------------
  // The sentence being read is highlighted where it stands in the formatted page and kept in
  // view; a click on a sentence, or Enter on it, plays from there (readalong.js).

  const STORE_FOLLOW = "pagecast.reader.follow";
  const followBox = byId("reader-follow-toggle");
  const formatted = byId("reader-formatted");
  const along = formatted
    ? readAlong(formatted, audio, {
        text: () => (typeof config.pageText === "string" ? config.pageText : ""),
        seek: (seconds, andPlay) => {
          if (!current) return;
          audio.currentTime = seconds;
          showTime();
          if (andPlay && audio.paused) play();
        },
        following: () => !followBox || followBox.checked,
        help: byId("reader-sentence-help"),
        // The player bar covers the bottom of the screen.
        covered: () => (bar && getComputedStyle(bar).position === "fixed" ? bar : null),
      })
    : null;

  function clearFollow() {
    if (along) along.clear();
  }

  async function loadTimings(id) {
    if (!along || !config.timingsUrl) return;
    if (along.shownFor() !== id) along.clear();
    const result = await api("GET", urlFor(config.timingsUrl, id));
    if (!current || current.id !== id) return; // another audio was chosen meanwhile
    if (!result.ok || !Array.isArray(result.data)) {
      along.clear(); // an edited page, or no timings: the page stays as it is
      return;
    }
    along.show(result.data, id);
  }

  function highlight(scroll) {
    if (along) along.highlight(scroll);
  }

  function stepSentence(step) {
    return along ? along.step(step) : false;
  }

  if (followBox) {
    followBox.checked = stored(STORE_FOLLOW, "1") === "1";
    followBox.addEventListener("change", () => {
      store(STORE_FOLLOW, followBox.checked ? "1" : "0");
      highlight(true);
    });
  }

  audio.addEventListener("loadedmetadata", applyStart);
  audio.addEventListener("durationchange", showTime);
  audio.addEventListener("timeupdate", showTime);
  audio.addEventListener("timeupdate", () => highlight(!audio.paused));
  audio.addEventListener("seeked", () => highlight(true));
  audio.addEventListener("play", () => {
    if (current) current.played = true;
    showToggle();
    window.clearInterval(saveTimer);
    saveTimer = window.setInterval(savePosition, SAVE_EVERY_MS);
  });
  audio.addEventListener("pause", () => {
    showToggle();
    window.clearInterval(saveTimer);
    savePosition();
  });
  audio.addEventListener("ended", async () => {
    if (current && current.streaming) {
      // A stream ends at the end of the made audio, or early if its making broke off.
      const id = current.id;
      const result = await api("GET", urlFor(config.audioUrl, id));
      if (!current || current.id !== id) return;
      if (!result.ok || !result.data || result.data.status !== "completed") {
        current.cutShort = audio.currentTime || 0; // carried on from here once it is made
        return;
      }
      current.streaming = false;
    }
    savePosition();
    goToNextPage();
  });
  audio.addEventListener("error", () => {
    if (current && current.streaming) {
      current.cutShort = audio.currentTime || 0;
    }
  });
  window.addEventListener("pagehide", () => savePosition(true));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") savePosition(true);
  });

  toggleButton.addEventListener("click", togglePlay);
  backButton.addEventListener("click", () => skip(-SKIP_SECONDS));
  forwardButton.addEventListener("click", () => skip(SKIP_SECONDS));
  seekbar.addEventListener("pointerdown", () => {
    dragging = true;
  });
  seekbar.addEventListener("pointerup", () => {
    dragging = false;
  });
  seekbar.addEventListener("input", () => {
    if (!current) return;
    seek.to(Number(seekbar.value));
    showTime();
  });
  seekbar.addEventListener("change", () => {
    dragging = false;
  });

  speedSelect.value = stored(STORE_SPEED, speedSelect.value);
  if (!speedSelect.value) {
    speedSelect.value = "1.0";
  }
  speedSelect.addEventListener("change", () => {
    applySpeed();
    store(STORE_SPEED, speedSelect.value);
    const option = speedSelect.options[speedSelect.selectedIndex];
    announce(format(t.speedChanged, { speed: option ? option.textContent : speedSelect.value }));
  });
  continueBox.checked = stored(STORE_CONTINUE, "1") === "1";
  continueBox.addEventListener("change", () => store(STORE_CONTINUE, continueBox.checked ? "1" : "0"));
  applySpeed();

  // Keyboard shortcuts, except while typing or when the focused control uses the key itself.
  function isTextField(element) {
    if (!(element instanceof Element)) return false;
    if (element.isContentEditable) return true;
    if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
    if (element.tagName === "INPUT") {
      return !["button", "checkbox", "radio", "submit", "reset"].includes(element.type);
    }
    return false;
  }

  document.addEventListener("keydown", (event) => {
    if (!current || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    const target = event.target;
    if (isTextField(target)) return;
    if (event.key === " " || event.key === "Spacebar") {
      // Space on a button, link, checkbox or summary is that control's own.
      if (target instanceof Element && target.closest("button, a, summary, input, [role=button]")) {
        return;
      }
      event.preventDefault();
      togglePlay();
    } else if (event.shiftKey && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
      if (stepSentence(event.key === "ArrowLeft" ? -1 : 1)) event.preventDefault();
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      skip(-SKIP_SECONDS);
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      skip(SKIP_SECONDS);
    }
  });

  // --- The list of this page's audio ----------------------------------------------------------

  const template = byId("reader-audio-template");
  const voiceSelect = byId("reader-voice");

  function markVoice(voice, made) {
    if (!voiceSelect) return;
    for (const option of voiceSelect.options) {
      if (option.value === voice && option.dataset.label) {
        const name = option.dataset.label;
        option.textContent = made ? format(t.alreadyMade, { voice: name }) : name;
      }
    }
  }

  function showRow(row, data) {
    row.dataset.audioId = String(data.id);
    row.dataset.voice = data.voice;
    const voiceName = data.voice_display_name || data.voice;
    row.dataset.voiceName = voiceName;
    row.dataset.status = data.status;
    row.dataset.duration = data.duration_seconds === null ? "" : String(data.duration_seconds);
    if (!row.dataset.position) {
      row.dataset.position = "0";
    }
    row.querySelector(".reader-audio-voice").textContent = voiceName;
    row.querySelector(".reader-audio-duration").textContent =
      data.duration_seconds === null ? "" : clock(data.duration_seconds);
    row.querySelector(".reader-audio-by").textContent = data.created_by
      ? format(t.madeBy, { email: data.created_by.email })
      : t.madeByUnknown;
    const status = row.querySelector(".reader-audio-status");
    status.textContent = t[`status_${data.status}`] || data.status;
    status.className = `reader-audio-status badge status-${data.status}`;
    for (const name of row.querySelectorAll(".reader-audio-name")) {
      name.textContent = ` ${voiceName}`;
    }
    const play = row.querySelector(".reader-audio-play");
    const download = row.querySelector(".reader-audio-download");
    if (data.download_url) {
      row.dataset.downloadUrl = data.download_url;
      download.href = data.download_url;
    } else {
      delete row.dataset.downloadUrl;
      download.removeAttribute("href");
    }
    play.hidden = !data.download_url;
    download.hidden = !data.download_url;
    if (data.outdated) {
      row.dataset.outdated = "1";
    } else {
      delete row.dataset.outdated;
    }
    const outdatedNote = row.querySelector(".reader-audio-outdated");
    if (outdatedNote) outdatedNote.hidden = !data.outdated;
    const regenerate = row.querySelector(".reader-audio-regenerate");
    if (regenerate) {
      regenerate.elements.voice.value = data.voice;
      regenerate.hidden = !data.outdated;
    }
  }

  function upsertRow(data) {
    let row = rowFor(data.id);
    if (!row) {
      if (!template || !list) return null;
      row = template.content.firstElementChild.cloneNode(true);
      list.prepend(row);
    }
    showRow(row, data);
    emptyText.hidden = true;
    return row;
  }

  async function deleteRow(row) {
    if (!window.confirm(t.confirmDelete)) return;
    const id = Number(row.dataset.audioId);
    const result = await api("DELETE", urlFor(config.audioUrl, id));
    if (!result.ok) {
      announce(result.message);
      return;
    }
    if (current && current.id === id) {
      unload();
    }
    const focusAfter = row.nextElementSibling || row.previousElementSibling;
    markVoice(row.dataset.voice, false);
    row.remove();
    emptyText.hidden = Boolean(list.querySelector(".reader-audio"));
    const target = focusAfter ? focusAfter.querySelector("button, a") : null;
    if (target) target.focus();
    announce(t.deleted);
  }

  if (list) {
    list.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest("button") : null;
      const row = button ? button.closest(".reader-audio") : null;
      if (!row) return;
      if (button.classList.contains("reader-audio-play")) {
        load(row, { autoplay: true, fromStart: false });
      } else if (button.classList.contains("reader-audio-delete")) {
        deleteRow(row);
      }
    });
    list.addEventListener("submit", (event) => {
      const form = event.target instanceof Element ? event.target.closest(".reader-audio-regenerate") : null;
      if (!form) return;
      event.preventDefault();
      regenerate(form);
    });
  }

  // --- Making audio ---------------------------------------------------------------------------

  const generateForm = byId("reader-generate-form");
  const generateButton = byId("reader-generate-button");
  const generateStatus = byId("reader-generate-status");
  const progress = byId("reader-progress");
  const quotaText = byId("reader-quota");
  // The audio being made that this page follows: id -> its progress line and what it knows.
  const following = new Map();
  let ticking = null;

  async function refreshQuota() {
    if (!quotaText) return;
    const result = await api("GET", config.pageAudiosUrl);
    if (result.ok && result.data && result.data.quota) {
      quotaText.textContent = format(t.quota, result.data.quota);
      generateButton.disabled = result.data.quota.available <= 0;
    }
  }

  function since(createdAt) {
    // Counted from when it was asked for (a clock a little off never makes it negative).
    const asked = Date.parse(createdAt || "");
    return Number.isFinite(asked) ? Math.min(asked, Date.now()) : Date.now();
  }

  function progressText(job) {
    const now = Date.now();
    const values = { voice: job.voiceName, elapsed: clock((now - job.since) / 1000) };
    if (job.status === "pending") return format(t.progressPending, values);
    if (job.secondsLeft === null) return format(t.progressMaking, values);
    const left = Math.max(1, job.secondsLeft - (now - job.estimatedAt) / 1000);
    return format(t.progressMakingLeft, Object.assign(values, { left: clock(left) }));
  }

  // One line for each audio being made, its time counted every second; none when none is.
  function showProgress() {
    if (!progress) return;
    for (const job of following.values()) {
      if (!job.line.isConnected) progress.append(job.line);
      job.text.textContent = progressText(job);
    }
    for (const line of progress.querySelectorAll(".reader-progress-line")) {
      if (!following.has(Number(line.dataset.audioId))) line.remove();
    }
    progress.hidden = following.size === 0;
    if (following.size && ticking === null) {
      ticking = window.setInterval(showProgress, 1000);
    } else if (!following.size && ticking !== null) {
      window.clearInterval(ticking);
      ticking = null;
    }
  }

  function updateJob(job, data) {
    job.voiceName = data.voice_display_name || data.voice || job.voiceName;
    job.status = data.status;
    if (data.created_at) job.since = since(data.created_at);
    return job;
  }

  function startJob(data) {
    const line = document.createElement("div");
    line.className = "reader-progress-line";
    line.dataset.audioId = String(data.id);
    const text = document.createElement("label");
    text.className = "reader-progress-text";
    text.htmlFor = `reader-progress-bar-${Number(data.id)}`;
    const bar = document.createElement("progress");
    bar.id = text.htmlFor;
    line.append(text, bar);
    const job = { line: line, text: text, voiceName: "", since: Date.now(), secondsLeft: null };
    return updateJob(job, data);
  }

  async function estimate(job, data) {
    // The document's estimate in this voice is this audio's when it is the only one being
    // made; otherwise the line gives the time so far alone.
    if (!config.audioProgressUrl) return;
    const url = `${config.audioProgressUrl}?${new URLSearchParams({ voice: data.voice })}`;
    const result = await api("GET", url);
    const found = result.ok && result.data ? result.data : null;
    const alone = found && found.pages_in_progress === 1 && Number.isFinite(found.seconds_left);
    job.secondsLeft = alone ? found.seconds_left : null;
    job.estimatedAt = Date.now();
  }

  function endStreamingNote() {
    // "Playing from the first sentence while the rest is made" is no longer true.
    if (pageStatus && pageStatus.textContent === t.listeningWhileMade) announce("", pageStatus);
  }

  async function follow(id, first) {
    if (following.has(id)) return;
    const row = rowFor(id);
    const known = row ? { voice: row.dataset.voiceName, status: row.dataset.status } : {};
    following.set(id, startJob(Object.assign({ id: id }, known, first)));
    let delay = POLL_FIRST_MS;
    let lastStatus = "";
    const status = generateStatus || pageStatus;
    try {
      for (;;) {
        const result = await api("GET", urlFor(config.audioUrl, id));
        if (!result.ok) {
          announce(result.message, status);
          return;
        }
        const data = result.data;
        // (After continuous play moved on, an audio of an earlier page has no row here.)
        const shown = data.page === undefined || Number(data.page) === config.pageId;
        const row = shown ? upsertRow(data) : rowFor(data.id);
        if (data.status === "completed" && data.lifetime_status === "active") {
          following.delete(id);
          showProgress();
          endStreamingNote();
          // (Audio asked for by continuous play took a slot too: the count says so now.)
          if (shown) refreshQuota();
          const streamedHere = current && current.id === id && current.streaming;
          if (streamedHere && current.cutShort === undefined) {
            current.streaming = false; // the stream carries on to the end of the made file
            announce(t.readyListening, status);
            loadTimings(id);
          } else if (streamedHere) {
            const made = row || detachedRow(data); // (a listener without the list's template)
            made.dataset.position = String(current.cutShort);
            load(made, { autoplay: true, fromStart: false });
            announce(t.readyListening, status);
          } else {
            announce(t.ready, status);
            if (row && (!current || audio.paused)) {
              load(row, { autoplay: false, fromStart: true });
            }
          }
          return;
        }
        if (data.status === "failed" || data.lifetime_status !== "active") {
          following.delete(id);
          showProgress();
          endStreamingNote();
          if (current && current.id === id && current.streaming) {
            unload();
          }
          markVoice(data.voice, false);
          announce(format(t.failed, { message: data.error_message || t.errorGeneric }), status);
          return;
        }
        if (current && current.id === id && current.streaming && data.status === "generating") {
          loadTimings(id); // the sentences finished so far, to read along while it is made
        }
        const job = updateJob(following.get(id), data);
        if (data.status === "generating") await estimate(job, data);
        showProgress();
        if (data.status !== lastStatus) {
          lastStatus = data.status;
          // The status in words; the time is counted on the progress line, not here.
          announce(data.status === "pending" ? t.pending : format(t.generating, { voice: job.voiceName }), status);
        }
        await sleep(delay);
        delay = Math.min(delay * 1.5, POLL_MAX_MS);
      }
    } finally {
      following.delete(id);
      showProgress();
    }
  }

  function dropReplaced(data) {
    // Asking for a voice whose audio is outdated replaced that audio: it is gone.
    if (!list) return;
    for (const row of list.querySelectorAll(".reader-audio[data-outdated='1']")) {
      if (row.dataset.voice === data.voice && Number(row.dataset.audioId) !== data.id) {
        if (current && current.row === row) unload();
        row.remove();
      }
    }
  }

  async function startMaking(data) {
    dropReplaced(data);
    markVoice(data.voice, true);
    const made = upsertRow(data);
    if (made && config.streamUrl && (!current || audio.paused)) {
      // Listen from the first sentence while the rest is made.
      load(made, { autoplay: true, fromStart: true, streaming: data.status !== "completed" });
      announce(t.listeningWhileMade, pageStatus);
    }
    const followed = follow(data.id, data);
    showProgress();
    await followed;
    await refreshQuota();
  }

  async function regenerate(form) {
    const voice = form.elements.voice.value;
    const row = form.closest(".reader-audio");
    const button = form.querySelector("button");
    button.disabled = true;
    announce(format(t.regenerating, { voice: (row && row.dataset.voiceName) || voice }), generateStatus);
    const result = await api("POST", config.pageAudiosUrl, { voice: voice });
    if (!result.ok) {
      announce(result.message, generateStatus);
      button.disabled = false;
      return;
    }
    await startMaking(result.data);
  }

  if (generateForm) {
    generateForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const voice = voiceSelect.value;
      const chosen = voiceSelect.options[voiceSelect.selectedIndex];
      generateButton.disabled = true;
      announce(format(t.starting, { voice: (chosen && chosen.dataset.name) || voice }), generateStatus);
      const result = await api("POST", config.pageAudiosUrl, { voice: voice });
      if (!result.ok) {
        announce(result.message, generateStatus);
        await refreshQuota();
        if (result.status !== 403 || !result.data || result.data.error.code !== "quota_exceeded") {
          generateButton.disabled = false;
        }
        return;
      }
      await startMaking(result.data);
    });
  }

  // Voice preview: a short sample of the chosen voice.
  const previewButton = byId("reader-voice-preview");
  const sample = new Audio();
  sample.preload = "none";

  function showSampleButton() {
    if (previewButton) previewButton.textContent = sample.paused ? t.previewVoice : t.stopPreview;
  }

  if (previewButton && voiceSelect) {
    previewButton.addEventListener("click", () => {
      if (!sample.paused) {
        sample.pause();
        return;
      }
      const option = voiceSelect.options[voiceSelect.selectedIndex];
      if (!option) return;
      if (sample.dataset.voice !== option.value) {
        sample.src = option.dataset.sampleUrl;
        sample.dataset.voice = option.value;
      } else {
        sample.currentTime = 0;
      }
      audio.pause();
      const started = sample.play();
      if (started && typeof started.catch === "function") {
        started.catch(() => announce(t.previewFailed, generateStatus));
      }
    });
    sample.addEventListener("play", showSampleButton);
    sample.addEventListener("pause", showSampleButton);
    sample.addEventListener("ended", showSampleButton);
    sample.addEventListener("error", () => {
      showSampleButton();
      announce(t.previewFailed, generateStatus);
    });
    voiceSelect.addEventListener("change", () => sample.pause());
  }

  // --- The editor's preview -------------------------------------------------------------------

  const editForm = byId("reader-edit-form");
  const editPreviewButton = byId("reader-preview-button");
  const editPreview = byId("reader-preview");
  const editPreviewBody = byId("reader-preview-body");
  const markdownField = byId("reader-markdown");
  const editStatus = byId("reader-edit-status");

  if (editForm && editPreviewButton) {
    editPreviewButton.addEventListener("click", async () => {
      if (!markdownField.value.trim()) {
        announce(t.previewEmpty, editStatus);
        return;
      }
      let response;
      try {
        response = await fetch(editForm.dataset.previewUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            Accept: "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": csrfToken(),
          },
          body: new URLSearchParams({ markdown: markdownField.value }),
        });
      } catch (error) {
        announce(t.errorNetwork, editStatus);
        return;
      }
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (!response.ok || !data || typeof data.html !== "string") {
        announce(errorMessage(response, data), editStatus);
        return;
      }
      // The server's sanitiser made this HTML safe to insert, as it does for the page itself.
      editPreviewBody.innerHTML = data.html;
      editPreview.hidden = false;
      announce(t.previewShown, editStatus);
    });
  }

  // --- Start ----------------------------------------------------------------------------------

  const selectedRow = config.selectedAudioId ? rowFor(config.selectedAudioId) : null;
  if (selectedRow) {
    // Continuous play starts the next page from its beginning; otherwise resume where left.
    load(selectedRow, { autoplay: Boolean(config.autoplay), fromStart: Boolean(config.autoplay) });
  } else {
    setControls(false);
  }
  showToggle();
  if (config.listen && config.playlistUrl) {
    continuous.start(config.pageId, current ? current.voice : config.voice);
  }
  if (list) {
    for (const row of list.querySelectorAll(".reader-audio")) {
      if (row.dataset.status === "pending" || row.dataset.status === "generating") {
        follow(Number(row.dataset.audioId));
      }
    }
  }
})();
