/*
 * Reading along in the page as it is formatted: each sentence of the audio's timings is marked
 * where it stands in the rendered page (headings, lists, emphasis and links stay as they are),
 * the one being read is highlighted, and every sentence can be reached by keyboard or by click
 * to listen from there.
 *
 * The timings index the page's plain text (the server's text for speech), which differs from
 * the rendered page in its spaces and in what only one of them holds (a table is read row by
 * row, "Name: Ann."; syntax a reader skips is shown): the two are aligned on the characters that
 * are not spaces, and picked up again where they differ. A sentence that cannot be found in the
 * page is simply not marked.
 */

const SPACE = /\s/;
// Characters that must agree, in a row, to pick the two texts up again after they differ.
const ANCHOR = 8;
// How far ahead in the page, and how far on in the plain text, to look for that.
const PAGE_AHEAD = 2000;
const TEXT_AHEAD = 200;
// The same for a few characters close by.
const NEAR_ANCHOR = 4;
const NEAR_AHEAD = 32;
// Elements a sentence's mark may hold whole (the sanitiser allows no other inline ones).
const INLINE = new Set([
  "A", "ABBR", "B", "BR", "CODE", "DEL", "EM", "I", "S", "SMALL", "STRONG", "SUB", "SUP", "U",
]);

// Seconds a seek may fall short of where it was asked to go (the audio's frames).
const SEEK_SLACK = 0.05;

const MARK = "reader-sentence";
const CURRENT = "reader-sentence-current";

/** The text's characters that are not spaces, and where each is in the text. */
function withoutSpaces(text) {
  let chars = "";
  const at = [];
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (!SPACE.test(char)) {
      chars += char;
      at.push(index);
    }
  }
  return { chars: chars, at: at };
}

/** For offsets counted in characters (as the server counts them), the offsets in this string
 * (counted in UTF-16 units, as JavaScript does): they differ after an emoji, for one. */
export function unitOffsets(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (offset) => offset;
  const units = [0];
  let unit = 0;
  for (const char of text) {
    unit += char.length;
    units.push(unit);
  }
  return (offset) => units[Math.min(Math.max(offset, 0), units.length - 1)];
}

/** The nearest place (fewest characters passed over in both) from plain[from] and page[at]
 * where `size` characters agree, looking `textAhead` and `pageAhead` on: [cost, [from, at]]. */
function nearest(plain, page, from, at, size, textAhead, pageAhead, within) {
  const ahead = page.slice(at, at + pageAhead);
  let best = null;
  let cost = within;
  for (let skip = 0; skip <= textAhead && skip < cost && from + skip < plain.length; skip += 1) {
    const found = ahead.indexOf(plain.slice(from + skip, from + skip + size));
    if (found >= 0 && skip + found < cost) {
      cost = skip + found;
      best = [from + skip, at + found];
    }
  }
  return best ? [cost, best] : null;
}

/** Where `plain` and `page` take up again after differing at plain[from] and page[at]. */
function pickUp(plain, page, from, at) {
  // A few characters close by ("<b>raw</b>" shown where "raw" is spoken), else more of them
  // further on (a table's header, a passage only one of them has).
  const near = nearest(plain, page, from, at, NEAR_ANCHOR, NEAR_AHEAD, NEAR_AHEAD * 2, Infinity);
  const far = nearest(plain, page, from, at, ANCHOR, TEXT_AHEAD, PAGE_AHEAD, near ? near[0] : Infinity);
  if (far || near) return (far || near)[1];
  // Further on in the page than that?
  const found = page.indexOf(plain.slice(from, from + ANCHOR), at + PAGE_AHEAD);
  // Else this part of the plain text is not in the page at all.
  return found >= 0 ? [from, found] : [from + TEXT_AHEAD + 1, at];
}

/** For each character of `plain`, the index of the same character in `page`, or -1. Both are
 * without spaces; the matches only go forward. */
export function alignText(plain, page) {
  const match = new Int32Array(plain.length).fill(-1);
  let from = 0;
  let at = 0;
  while (from < plain.length && at < page.length) {
    if (plain[from] === page[at]) {
      match[from] = at;
      from += 1;
      at += 1;
    } else {
      [from, at] = pickUp(plain, page, from, at);
    }
  }
  return match;
}

function firstAtOrAfter(sorted, value) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Each range of `plain` ([from, to) in its units) as the range of `page` characters it matches
 * ([first, last], both included, indexes into page without spaces), or null when too little of
 * it is found, or found spread too far, to be that sentence. */
export function matchRanges(plain, page, ranges) {
  const text = withoutSpaces(plain);
  const match = alignText(text.chars, page);
  return ranges.map(([from, to]) => {
    const start = firstAtOrAfter(text.at, from);
    const end = firstAtOrAfter(text.at, to);
    const size = end - start;
    let first = -1;
    let last = -1;
    let found = 0;
    for (let index = start; index < end; index += 1) {
      if (match[index] < 0) continue;
      if (first < 0) first = match[index];
      last = match[index];
      found += 1;
    }
    if (!size || found * 2 < size || last - first + 1 > size * 2 + ANCHOR) return null;
    return [first, last];
  });
}

// --- Marking sentences in the page -----------------------------------------------------------

function isInline(node) {
  return (
    node.nodeType === Node.ELEMENT_NODE &&
    INLINE.has(node.nodeName) &&
    !node.classList.contains(MARK)
  );
}

function hasWords(text) {
  return /\S/.test(text);
}

function nothingBefore(node) {
  for (let sibling = node.previousSibling; sibling; sibling = sibling.previousSibling) {
    if (sibling.nodeType !== Node.TEXT_NODE || hasWords(sibling.data)) return false;
  }
  return true;
}

function nothingAfter(node) {
  for (let sibling = node.nextSibling; sibling; sibling = sibling.nextSibling) {
    if (sibling.nodeType !== Node.TEXT_NODE || hasWords(sibling.data)) return false;
  }
  return true;
}

function indexIn(node) {
  return Array.prototype.indexOf.call(node.parentNode.childNodes, node);
}

/** A sentence's range, widened over the inline elements it fills ("*all of this.*"), so that
 * they are marked whole rather than inside. */
function sentenceRange(container, startNode, startOffset, endNode, endOffset) {
  const range = document.createRange();
  let node = startNode;
  if (!hasWords(startNode.data.slice(0, startOffset))) {
    while (nothingBefore(node) && node.parentNode !== container && isInline(node.parentNode)) {
      node = node.parentNode;
    }
  }
  if (node === startNode) range.setStart(startNode, startOffset);
  else range.setStart(node.parentNode, indexIn(node));
  node = endNode;
  if (!hasWords(endNode.data.slice(endOffset))) {
    while (nothingAfter(node) && node.parentNode !== container && isInline(node.parentNode)) {
      node = node.parentNode;
    }
  }
  if (node === endNode) range.setEnd(endNode, endOffset);
  else range.setEnd(node.parentNode, indexIn(node) + 1);
  return range;
}

function containsWhole(range, node) {
  const around = document.createRange();
  around.selectNode(node);
  return (
    range.compareBoundaryPoints(Range.START_TO_START, around) <= 0 &&
    range.compareBoundaryPoints(Range.END_TO_END, around) >= 0
  );
}

/** The runs of nodes (and parts of text nodes) a mark can hold, each within one parent: a
 * sentence across blocks (two list items) or ending inside a link needs several marks. */
function runsOf(range) {
  const runs = [];
  let run = [];
  function close() {
    const isBlank = (item) =>
      item.from !== undefined && !hasWords(item.node.data.slice(item.from, item.to));
    while (run.length && isBlank(run[0])) run.shift();
    while (run.length && isBlank(run[run.length - 1])) run.pop();
    if (run.length) runs.push(run);
    run = [];
  }
  function textItem(node) {
    const from = node === range.startContainer ? range.startOffset : 0;
    const to = node === range.endContainer ? range.endOffset : node.length;
    return from < to ? { node: node, from: from, to: to } : null;
  }
  function visit(parent) {
    for (const child of Array.from(parent.childNodes)) {
      if (!range.intersectsNode(child)) {
        close();
      } else if (child.nodeType === Node.TEXT_NODE) {
        const item = textItem(child);
        if (item) run.push(item);
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        if (isInline(child) && containsWhole(range, child)) {
          run.push({ node: child });
        } else {
          close();
          visit(child);
        }
      }
    }
    close();
  }
  const common = range.commonAncestorContainer;
  if (common.nodeType === Node.TEXT_NODE) {
    const item = textItem(common);
    if (item && hasWords(common.data.slice(item.from, item.to))) runs.push([item]);
  } else {
    visit(common);
  }
  return runs;
}

function wrapRun(run, index) {
  const nodes = run.map((item) => {
    if (item.from === undefined) return item.node;
    let node = item.node;
    if (item.to < node.length) node.splitText(item.to);
    if (item.from > 0) node = node.splitText(item.from);
    return node;
  });
  const mark = document.createElement("span");
  mark.className = MARK;
  mark.dataset.sentence = String(index);
  nodes[0].parentNode.insertBefore(mark, nodes[0]);
  for (const node of nodes) mark.appendChild(node);
  return mark;
}

/** The page's text nodes and its characters that are not spaces, each with where it is. */
function pageCharacters(container) {
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  let chars = "";
  const nodeOf = [];
  const offsetOf = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const data = node.data;
    for (let offset = 0; offset < data.length; offset += 1) {
      if (!SPACE.test(data[offset])) {
        chars += data[offset];
        nodeOf.push(node);
        offsetOf.push(offset);
      }
    }
  }
  return { chars: chars, nodeOf: nodeOf, offsetOf: offsetOf };
}

/** Removes every sentence mark, leaving the page as it was rendered. */
export function unmark(container) {
  const marks = container.querySelectorAll(`.${MARK}`);
  if (!marks.length) return;
  for (const mark of marks) {
    mark.replaceWith(...mark.childNodes);
  }
  container.normalize();
}

/**
 * Reading along in `container` (the formatted page) for `audio`. `options`:
 *   text()      the page's plain text, which the timings index;
 *   seek(s, play) goes to `s` seconds into the audio, and plays from there when `play`;
 *   following() whether the sentence being read is to be highlighted and kept in view;
 *   help        the element that says how to use the sentences from the keyboard;
 *   covered()   the element covering the bottom of the screen (the player bar), or null.
 */
export function readAlong(container, audio, options) {
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  let sentences = []; // [{start, end, from, to, marks: [span]}], in order
  let shownFor = null; // what the sentences are the timings of (an audio id)
  let active = -1;
  let stop = null; // the mark Tab stops at in the text

  function clear() {
    unmark(container);
    sentences = [];
    shownFor = null;
    active = -1;
    stop = null;
  }

  function focusTarget(index) {
    const sentence = sentences[index];
    return sentence && sentence.marks.length ? sentence.marks[0] : null;
  }

  function setStop(mark) {
    if (!mark || mark === stop) return;
    if (stop) stop.tabIndex = -1;
    stop = mark;
    stop.tabIndex = 0;
  }

  function markSentences(timings, firstNew) {
    const text = options.text();
    const unit = unitOffsets(text);
    const page = pageCharacters(container);
    const fresh = timings.slice(firstNew).map((timing) => [
      unit(Number(timing.char_start)),
      unit(Number(timing.char_end)),
    ]);
    const found = matchRanges(text, page.chars, fresh);
    const added = fresh.map(([from, to], index) => ({
      start: Number(timings[firstNew + index].start),
      end: Number(timings[firstNew + index].end),
      from: from,
      to: to,
      marks: [],
    }));
    // Last first: marking a sentence splits text nodes after the places the earlier ones use.
    for (let index = added.length - 1; index >= 0; index -= 1) {
      const match = found[index];
      if (!match) continue;
      const [first, last] = match;
      const range = sentenceRange(
        container,
        page.nodeOf[first],
        page.offsetOf[first],
        page.nodeOf[last],
        page.offsetOf[last] + 1
      );
      const number = firstNew + index;
      added[index].marks = runsOf(range).map((run) => wrapRun(run, number));
      const target = added[index].marks[0];
      if (target) {
        target.tabIndex = -1;
        if (options.help) target.setAttribute("aria-describedby", options.help.id);
      }
    }
    sentences = sentences.concat(added);
    if (!stop) setStop(sentences.map((_, index) => focusTarget(index)).find(Boolean));
  }

  /** Marks the sentences of `timings` (of the audio `key`); while an audio is being made its
   * timings grow, and only the new sentences are marked. */
  function show(timings, key) {
    const valid = [];
    let position = 0;
    for (const timing of timings) {
      const from = Number(timing.char_start);
      const to = Number(timing.char_end);
      if (from >= position && to > from) {
        valid.push(timing);
        position = to;
      }
    }
    const unit = unitOffsets(options.text());
    const same =
      shownFor === key &&
      sentences.length <= valid.length &&
      sentences.every(
        (sentence, index) =>
          sentence.from === unit(Number(valid[index].char_start)) &&
          sentence.to === unit(Number(valid[index].char_end))
      );
    if (same && sentences.length === valid.length) return;
    const hadFocus = container.contains(document.activeElement)
      ? Number(document.activeElement.dataset.sentence)
      : -1;
    if (!same) clear();
    shownFor = key;
    try {
      markSentences(valid, sentences.length);
    } catch (error) {
      clear(); // the page stays as it was rendered
      return;
    }
    if (hadFocus >= 0 && !same && focusTarget(hadFocus)) {
      focusTarget(hadFocus).focus({ preventScroll: true });
    }
    highlight(false);
  }

  function sentenceAt(time) {
    // The last sentence that starts at or before `time` (starts are in order). A seek to a
    // sentence's start may land a few milliseconds before it: that is the sentence too.
    time += SEEK_SLACK;
    let low = 0;
    let high = sentences.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (sentences[middle].start <= time) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  function inView(element) {
    const box = element.getBoundingClientRect();
    const cover = options.covered ? options.covered() : null;
    const bottom = cover ? cover.getBoundingClientRect().top : window.innerHeight;
    return box.top >= 0 && box.bottom <= bottom;
  }

  function bringIntoView(element) {
    if (!inView(element)) {
      element.scrollIntoView({ block: "center", behavior: reducedMotion.matches ? "auto" : "smooth" });
    }
  }

  function unhighlight() {
    if (active >= 0 && sentences[active]) {
      for (const mark of sentences[active].marks) mark.classList.remove(CURRENT);
      const target = focusTarget(active);
      if (target) target.removeAttribute("aria-current");
    }
    active = -1;
  }

  /** Marks the sentence being read (and keeps it in view when `scroll`). */
  function highlight(scroll) {
    if (!sentences.length) return;
    if (!options.following()) {
      unhighlight();
      return;
    }
    const index = sentenceAt(audio.currentTime || 0);
    if (index === active) return;
    unhighlight();
    active = index;
    if (index < 0) return;
    const marks = sentences[index].marks;
    if (!marks.length) return; // not found in the page: nothing to show
    for (const mark of marks) mark.classList.add(CURRENT);
    marks[0].setAttribute("aria-current", "true");
    // Tab comes back into the text at the sentence being read, unless it is being used.
    if (!container.contains(document.activeElement)) setStop(marks[0]);
    if (scroll) bringIntoView(marks[0]);
  }

  function seekTo(index, play) {
    if (index < 0 || index >= sentences.length) return;
    options.seek(sentences[index].start, play);
    highlight(true);
  }

  /** One sentence back (-1) or on (1) from the one being read; false when there are none. */
  function step(direction) {
    if (!sentences.length) return false;
    const time = audio.currentTime || 0;
    const here = sentenceAt(time);
    // Back within the first second of a sentence goes to the one before, as players do.
    const backToStart = direction < 0 && here >= 0 && time - sentences[here].start > 1;
    seekTo(Math.min(Math.max(backToStart ? here : here + direction, 0), sentences.length - 1), false);
    return true;
  }

  function sentenceOf(target) {
    const mark = target instanceof Element ? target.closest(`.${MARK}`) : null;
    return mark && container.contains(mark) ? Number(mark.dataset.sentence) : -1;
  }

  function moveFocus(from, move) {
    // The next (or first, or last) sentence found in the page.
    const found = sentences.map((_, index) => index).filter((index) => focusTarget(index));
    if (!found.length) return;
    let index;
    if (move === "first") index = found[0];
    else if (move === "last") index = found[found.length - 1];
    else if (move > 0) index = found.find((candidate) => candidate > from);
    else index = [...found].reverse().find((candidate) => candidate < from);
    const target = index === undefined ? null : focusTarget(index);
    if (!target) return;
    setStop(target);
    target.focus({ preventScroll: true });
    bringIntoView(target);
  }

  container.addEventListener("click", (event) => {
    const index = sentenceOf(event.target);
    if (index < 0) return;
    // A link in the text is followed, and text being selected is not a click on a sentence.
    if (event.target.closest("a")) return;
    const selection = window.getSelection ? String(window.getSelection()) : "";
    if (selection) return;
    seekTo(index, true);
  });

  container.addEventListener("focusin", (event) => {
    const index = sentenceOf(event.target);
    if (index >= 0 && event.target === focusTarget(index)) setStop(event.target);
  });

  container.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const index = sentenceOf(event.target);
    if (index < 0 || event.target !== focusTarget(index)) return;
    const rtl = getComputedStyle(event.target).direction === "rtl";
    const moves = {
      ArrowDown: 1,
      ArrowUp: -1,
      ArrowRight: rtl ? -1 : 1,
      ArrowLeft: rtl ? 1 : -1,
      Home: "first",
      End: "last",
    };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      seekTo(index, true);
    } else if (Object.prototype.hasOwnProperty.call(moves, event.key)) {
      event.preventDefault();
      moveFocus(index, moves[event.key]);
    }
  });

  return {
    show: show,
    clear: clear,
    highlight: highlight,
    step: step,
    shownFor: () => shownFor,
  };
}
