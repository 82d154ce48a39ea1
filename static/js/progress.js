/*
 * Following audio that is being made for a whole document: the pages made of all, and the time
 * left. The words come from the server (the page's #making-strings, web/making.py), so the
 * status reads the same whether the server rendered it or this module updated it.
 */

/** Fills %(name)s placeholders; an unknown name is left as it is. */
export function format(template, values) {
  return String(template || "").replace(/%\((\w+)\)s/g, (match, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match
  );
}

/** "about 40 s left", "about 3 min left", or "estimating the time left" for null. */
export function timeLeft(seconds, t) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
    return t.estimating;
  }
  const whole = Math.max(0, Math.round(Number(seconds)));
  let amount;
  if (whole < 60) {
    amount = format(t.seconds, { seconds: whole });
  } else if (whole < 3600) {
    amount = format(t.minutes, { minutes: Math.ceil(whole / 60) });
  } else {
    amount = format(t.hours, {
      hours: Math.floor(whole / 3600),
      minutes: Math.ceil((whole % 3600) / 60),
    });
  }
  return format(t.timeLeft, { time: amount });
}

/** The status of a document's audio in one voice (the progress endpoint's answer). */
export function progressLabel(progress, t) {
  const numbers = { done: progress.pages_done, total: progress.pages_total };
  if (!progress.finished) {
    return `${format(t.running, numbers)} · ${timeLeft(progress.seconds_left, t)}`;
  }
  if (progress.pages_done === 0 && progress.pages_failed === 0) {
    return t.nothingYet;
  }
  let said =
    progress.pages_done === progress.pages_total ? t.everyPage : format(t.somePages, numbers);
  if (progress.pages_failed) {
    said += " " + format(t.failed, { failed: progress.pages_failed });
  }
  return said;
}

/** The status of an audiobook being made (the audiobook endpoint's answer). */
export function bookLabel(book, t) {
  if (book.pages_done >= book.pages_total) {
    return t.joining;
  }
  const numbers = { done: book.pages_done, total: book.pages_total };
  return `${format(t.running, numbers)} · ${timeLeft(book.seconds_left, t)}`;
}

/** Shows `done` of `total` and the words in a status element ([data-progress-bar] and
 * [data-progress-text] inside it). */
export function show(element, done, total, words) {
  const bar = element.querySelector("[data-progress-bar]");
  if (bar) {
    bar.max = Math.max(Number(total) || 0, 1);
    bar.value = Math.min(Number(done) || 0, bar.max);
  }
  const text = element.querySelector("[data-progress-text]");
  if (text) {
    text.textContent = words;
  }
}

const FIRST_MS = 1000;
const LONGEST_MS = 5000;

/**
 * Asks `url` (through `api`, which answers {ok, status, data}) again and again until
 * `onAnswer(data)` returns true (done) or the thing is gone (404). It asks every second while
 * `signature(data)` changes (pages being made), less often while it does not. Returns a
 * function that stops it.
 */
export function follow(url, api, onAnswer, signature = JSON.stringify) {
  let stopped = false;
  let delay = FIRST_MS;
  let last = "";
  const check = async () => {
    if (stopped) return;
    const result = await api(url);
    if (stopped || result.status === 404 || result.status === 403) return;
    if (result.ok && result.data) {
      if (onAnswer(result.data)) return;
      const seen = signature(result.data);
      delay = seen === last ? Math.min(delay * 1.5, LONGEST_MS) : FIRST_MS;
      last = seen;
    } else {
      delay = Math.min(delay * 2, LONGEST_MS);
    }
    window.setTimeout(check, delay);
  };
  window.setTimeout(check, 0);
  return () => {
    stopped = true;
  };
}
