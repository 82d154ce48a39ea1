/*
 * Listening while audio is made: the audio's stream (its MP3 as the worker makes it, then the
 * made file to its end) fed to the player's audio element through Media Source Extensions.
 *
 * Given the stream's URL as its src, a browser holds back until it has a large first block
 * (Chromium: 64 KiB, about 8 seconds of speech at 64 kbps), so the first sound waited until the
 * worker had made that much. Fed through a MediaSource, the audio plays from its first part, one
 * sentence. Where the browser cannot play MP3 that way, or the stream answers with a redirect (a
 * made audio in object storage, which the page may not fetch), the URL is the element's src.
 */

const TYPE = "audio/mpeg";
// When the browser's buffer is full (a very long page), what was heard this long ago goes.
const KEEP_HEARD_SECONDS = 30;
const FULL_RETRY_MS = 1000;
const END_ATTEMPTS = 50;
const END_RETRY_MS = 20;

/** Whether this browser can be fed MP3 through a MediaSource. */
export function canFeed() {
  return (
    typeof window.MediaSource === "function" &&
    typeof window.MediaSource.isTypeSupported === "function" &&
    window.MediaSource.isTypeSupported(TYPE)
  );
}

/**
 * Plays the stream at `url` in `audio` (the caller plays it). Returns a function that stops
 * feeding it: call it before the element is given another source. The element behaves as with
 * the URL as its src: it ends where the stream ends, and a stream that cannot be opened or
 * breaks off is an `error` event.
 */
export function feedStream(audio, url) {
  if (!canFeed()) {
    audio.src = url;
    return () => {};
  }
  const source = new MediaSource();
  const controller = new AbortController();
  const objectUrl = URL.createObjectURL(source);
  source.addEventListener(
    "sourceopen",
    () => {
      URL.revokeObjectURL(objectUrl);
      if (!controller.signal.aborted) feed(audio, source, url, controller.signal);
    },
    { once: true }
  );
  audio.src = objectUrl;
  return () => controller.abort();
}

async function feed(audio, source, url, signal) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", redirect: "manual", signal: signal });
  } catch (error) {
    if (!signal.aborted) end(source, "network");
    return;
  }
  if (signal.aborted) return;
  if (response.type === "opaqueredirect") {
    // A made audio whose file lives elsewhere: the element follows the redirect itself.
    const playing = !audio.paused;
    audio.src = url;
    if (playing) audio.play().catch(() => {});
    return;
  }
  if (!response.ok || !response.body) {
    end(source, "network");
    return;
  }
  let buffer;
  try {
    buffer = source.addSourceBuffer(TYPE);
  } catch (error) {
    return; // the element moved on to another source meanwhile
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
