/*
 * The player's seek bar and skips.
 *
 * The bar shows the position and, behind it, how much of the audio can be played from the
 * start: for an audio still being made, what is made so far, which is then the bar's end (it
 * moves on as more is made); once made, the whole audio. What the element has buffered is the
 * truth for what can be played. A seek or skip past what is made waits: the player's status
 * says "Making… (will play from 2:30)", the audio plays on (or stays paused) where it is, and
 * goes there once that point is made.
 */

// A point is made once this much audio after it is: enough for the player to start there.
const AHEAD_SECONDS = 0.5;
// While a skip waits, what is made is also looked at this often (the element's own events say
// it too, but not in every browser while paused).
const LOOK_MS = 500;

/** The end of what the element can play: that of its last buffered range (0 when none). */
export function madeSoFar(audio) {
  const ranges = audio.buffered;
  return ranges && ranges.length ? ranges.end(ranges.length - 1) : 0;
}

function percent(part, whole) {
  return whole > 0 ? `${Math.min(Math.max((part / whole) * 100, 0), 100).toFixed(2)}%` : "0%";
}

/**
 * The seek bar of `audio`: `streaming()` says whether the audio is still being made, `total()`
 * its length once made; `status` is where a skip past what is made is said. `t` holds the
 * messages (positionOf, positionOfMade, makingUntil), `format` and `clock` word them.
 */
export function seekBar({ audio, seekbar, status, t, format, clock, streaming, total }) {
  let waitingFor = null; // the time a seek or skip asked for past what is made
  let looking = null;

  function say(text) {
    if (status && status.textContent !== text) status.textContent = text;
  }

  function stopWaiting() {
    waitingFor = null;
    window.clearInterval(looking);
    looking = null;
    say("");
  }

  /** Goes to the point waited for once it is made (or the audio, made, ends before it). */
  function arrive() {
    if (waitingFor === null) return;
    const made = madeSoFar(audio);
    const end = streaming() ? Infinity : total();
    if (made < Math.min(waitingFor + AHEAD_SECONDS, end - AHEAD_SECONDS)) return;
    const target = Math.min(waitingFor, made);
    stopWaiting();
    audio.currentTime = target;
  }

  /** Shows the position and what can be played; `dragging`: the bar's thumb is held. */
  function show(dragging) {
    arrive();
    const position = audio.currentTime || 0;
    const made = madeSoFar(audio);
    const live = streaming();
    // While it is made, the bar ends where the made audio ends, or at the point waited for.
    const length = live ? Math.max(made, waitingFor || 0) : total();
    seekbar.max = String(live ? length : Math.max(Math.ceil(length), 0));
    if (!dragging) seekbar.value = String(Math.floor(position));
    seekbar.style.setProperty("--played", percent(position, length));
    seekbar.style.setProperty("--made", percent(made, length));
    seekbar.toggleAttribute("data-made-so-far", live);
    seekbar.setAttribute(
      "aria-valuetext",
      live
        ? format(t.positionOfMade, { position: clock(position), made: clock(made) })
        : format(t.positionOf, { position: clock(position), duration: clock(length) })
    );
  }

  /** Plays from `time`, or from there once it is made. */
  function to(time) {
    const target = Math.max(time, 0);
    if (streaming() && target > madeSoFar(audio)) {
      waitingFor = target;
      say(format(t.makingUntil, { position: clock(target) }));
      if (looking === null) looking = window.setInterval(() => show(false), LOOK_MS);
      arrive(); // (made meanwhile)
      return;
    }
    stopWaiting();
    const length = total();
    audio.currentTime = streaming() || !length ? target : Math.min(target, length);
  }

  /** Skips `seconds` on (back when negative), from the point waited for if there is one. */
  function by(seconds) {
    const from = waitingFor === null ? audio.currentTime || 0 : waitingFor;
    to(from + seconds);
  }

  return { show: show, to: to, by: by, reset: stopWaiting };
}
