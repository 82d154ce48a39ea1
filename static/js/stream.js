/*
 * Listening while audio is made: the audio's parts, as the worker stores them, then the made
 * file from the byte they reached, fed to the player's audio element through Media Source
 * Extensions.
 *
 * The player follows the audio's manifest (GET /api/v1/audios/{id}/parts/, then the follow URL
 * it gives), as an HLS player follows its playlist: each part is one short request, so no server thread is held while the
 * rest is made, and everyone listening to one audio shares its one synthesis. The parts, in
 * order, are the start of the made file byte for byte; once the audio is made, the rest of its
 * file is read with a Range from the byte reached.
 *
 * Where the browser cannot play MP3 through a MediaSource, the element is given the audio's
 * stream (one long response) as its src; where the made file lives in object storage (a
 * redirect the page may not follow), the element plays the file itself from where it was.
 */

const TYPE = "audio/mpeg";
// When the browser's buffer is full (a very long page), what was heard this long ago goes.
const KEEP_HEARD_SECONDS = 30;
const FULL_RETRY_MS = 1000;
const END_ATTEMPTS = 50;
const END_RETRY_MS = 20;
// A making that brings nothing new for this long is given up (the page plays the audio once
// it is made, from where the stream stopped).
const IDLE_MS = 60000;
const RETRY_MS = 1000;
const ATTEMPTS = 5; // network failures in a row before the stream is given up

/** Whether this browser can be fed MP3 through a MediaSource. */
export function canFeed() {
  return (
    typeof window.MediaSource === "function" &&
    typeof window.MediaSource.isTypeSupported === "function" &&
    window.MediaSource.isTypeSupported(TYPE)
  );
}

/**
 * Plays the audio being made in `audio` (the caller plays it): `urls.parts` is its manifest,
 * `urls.stream` its one-response stream. Returns a function that stops feeding it: call it
 * before the element is given another source. The element behaves as with the stream as its
 * src: it ends where the audio ends, and an audio whose making fails or breaks off is an
 * `error` event.
 */
export function feedStream(audio, urls) {
  if (!canFeed()) {
    audio.src = urls.stream;
    return () => {};
  }
  const source = new MediaSource();
  const controller = new AbortController();
  const objectUrl = URL.createObjectURL(source);
  source.addEventListener(
    "sourceopen",
    () => {
      URL.revokeObjectURL(objectUrl);
      if (!controller.signal.aborted) feed(audio, source, urls, controller.signal);
    },
    { once: true }
  );
  audio.src = objectUrl;
  return () => controller.abort();
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true }
    );
  });
}

/** A fetch that tries again after network failures; null once it has failed ATTEMPTS times. */
async function fetchRetrying(url, options, signal) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url, { credentials: "same-origin", signal: signal, ...options });
      if (response.status < 500 || attempt >= ATTEMPTS) return response;
    } catch (error) {
      if (signal.aborted || attempt >= ATTEMPTS) return null;
    }
    await sleep(RETRY_MS * attempt, signal);
    if (signal.aborted) return null;
  }
}

async function feed(audio, source, urls, signal) {
  let buffer;
  try {
    buffer = source.addSourceBuffer(TYPE);
  } catch (error) {
    return; // the element moved on to another source meanwhile
  }
  // The first look is the audio's manifest; later ones go where it says (its follow URL).
  let manifestUrl = urls.parts;
  let received = 0; // parts appended
  let sent = 0; // bytes appended
  let attempt = null;
  let lastNews = Date.now();
  try {
    for (;;) {
      const separator = manifestUrl.includes("?") ? "&" : "?";
      const response = await fetchRetrying(
        `${manifestUrl}${separator}after=${received}`,
        { headers: { Accept: "application/json" } },
        signal
      );
      if (signal.aborted) return;
      if (!response || !response.ok) {
        await end(source, "network"); // failed, deleted, or no longer ours to hear
        return;
      }
      const manifest = await response.json();
      if (signal.aborted) return;
      if (manifest.status === "completed") {
        await rest(audio, source, buffer, manifest.rest_url, sent, signal);
        return;
      }
      if (manifest.follow_url) manifestUrl = manifest.follow_url;
      if (manifest.attempt !== attempt) {
        if (received) {
          // Made again from its start: what was heard cannot be continued.
          await end(source, "network");
          return;
        }
        attempt = manifest.attempt;
      }
      const before = received;
      for (const url of manifest.parts) {
        const part = await fetchRetrying(url, {}, signal);
        if (signal.aborted) return;
        if (!part || part.status === 404) break; // made meanwhile: the manifest says so
        if (!part.ok) {
          await end(source, "network");
          return;
        }
        const bytes = new Uint8Array(await part.arrayBuffer());
        await append(buffer, bytes, audio, signal);
        received += 1;
        sent += bytes.byteLength;
      }
      if (received > before) {
        lastNews = Date.now();
        continue; // more may already be stored
      }
      if (Date.now() - lastNews > IDLE_MS) {
        await end(source, "network");
        return;
      }
      // (Spread around the time asked: listeners who started together do not ask together.)
      await sleep((manifest.poll_ms || RETRY_MS) * (0.75 + Math.random() / 2), signal);
      if (signal.aborted) return;
    }
  } catch (error) {
    if (!signal.aborted) await end(source, "network");
  }
}

/** The made file from byte `sent` to its end. */
async function rest(audio, source, buffer, url, sent, signal) {
  const headers = sent ? { Range: `bytes=${sent}-` } : {};
  const response = await fetchRetrying(url, { headers: headers, redirect: "manual" }, signal);
  if (signal.aborted) return;
  if (response && response.type === "opaqueredirect") {
    // A made file in object storage: the element plays it from where it was.
    const at = audio.currentTime;
    const playing = !audio.paused;
    audio.src = url;
    if (at) audio.currentTime = at;
    if (playing) audio.play().catch(() => {});
    return;
  }
  if (response && response.status === 416) {
    await end(source); // every byte had come in the parts
    return;
  }
  if (!response || !response.ok || !response.body) {
    await end(source, "network");
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await append(buffer, value, audio, signal);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    if (!signal.aborted) await end(source, "network");
    return;
  }
  if (!signal.aborted) await end(source);
}

async function settled(buffer) {
  // (Chromium may start on the rest of a large append just after an updateend.)
  while (buffer.updating) {
    await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
  }
}

async function append(buffer, bytes, audio, signal) {
  for (;;) {
    await settled(buffer);
    if (signal.aborted) throw new DOMException("The stream was stopped.", "AbortError");
    try {
      buffer.appendBuffer(bytes);
      return;
    } catch (error) {
      if (error.name !== "QuotaExceededError") throw error;
      // Full: what was heard a while ago makes room, or the listener catches up first.
      const heard = audio.currentTime - KEEP_HEARD_SECONDS;
      if (buffer.buffered.length && buffer.buffered.start(0) < heard) {
        buffer.remove(0, heard);
      } else {
        await new Promise((resolve) => setTimeout(resolve, FULL_RETRY_MS));
      }
    }
  }
}

async function end(source, reason) {
  // Once no append is under way: ending a stream while one is fails, and the element would
  // then wait at the end of the audio for more, never ending.
  for (let attempt = 0; attempt < END_ATTEMPTS && source.readyState === "open"; attempt += 1) {
    for (const buffer of Array.from(source.sourceBuffers)) await settled(buffer);
    try {
      if (reason) {
        source.endOfStream(reason);
      } else {
        source.endOfStream();
      }
      return;
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, END_RETRY_MS));
    }
  }
}
