"""Texts the benchmarks speak: ordinary English prose with the usual hard cases."""

import re

# About 3,000 characters.
PAGE_TEXT = """The history of the printed book is, in many ways, the history of reading itself. Before the press, a book was copied by hand, one page at a time, and a single volume could take a scribe many months. Dr. Johannes Gutenberg changed that around 1450, when he combined movable metal type with an oil-based ink and a press adapted from those used for wine. Within fifty years, printers had produced millions of books, e.g. bibles, grammars and almanacs, and the price of a volume had fallen to a fraction of what it once was.

Cheaper books meant more readers. In cities across Europe, literacy rose steadily, and with it came new habits: people read silently, alone, and for pleasure. Pamphlets spread arguments faster than any preacher could travel. Scientists shared results with colleagues they had never met. Was this a revolution? Many historians think so, although the change took generations rather than years.

Listening to text is older still. For most of history, reading aloud was the normal way to share a book, and a household might gather in the evening while one person read to the rest. Today, speech synthesis brings that habit back in a new form. A listener can hear a report while walking, cooking or driving, and someone with low vision can follow a document at their own pace. The quality of synthetic voices has improved remarkably: early systems sounded flat and mechanical, while modern neural voices pause, breathe and stress words in ways that feel natural.

Still, a good reading depends on good text. Abbreviations such as "Mr." or "approx." must not end a sentence, numbers like 3.14 must be read as numbers, and a stray web address should not be spelled out letter by letter. Headings, lists and tables need care as well, because the eye skips what the ear cannot. The best readers, human or machine, make these choices quietly, so that the listener never notices them at all.

In the end, the aim is simple. A page should sound the way a thoughtful person would read it: clearly, at an even pace, with pauses where the meaning needs them. When that works, the technology disappears, and only the words remain. That, after all, is what the printers of the fifteenth century wanted too.

Consider a simple test. Take a page from a novel, a page from a tax form and a page from a cookbook, and read each one aloud. The novel flows; the tax form stumbles over boxes, codes and percentages such as 12.5% or 40%; the cookbook jumps between quantities, times and temperatures. A careful reader adapts to each, slowing down for numbers and speeding up for dialogue. Software has to learn the same lessons, one rule at a time, and it is never quite finished.

There is also the question of speed. Nobody wants to wait for a chapter to be prepared before the first sentence plays. Good systems begin speaking almost at once and keep producing audio faster than it can be heard, so that the listener never catches up with the machine. That requires care in every step, from splitting sentences to encoding the final sound."""


_SENTENCE_END = re.compile(
    r"(?<!\bDr)(?<!\bMr)(?<!e\.g)(?<!i\.e)(?<!approx)[.?!]\"?(?=\s+[A-Z\"]|\s*$)"
)


def text_of_length(chars: int, *, at_most: int | None = None) -> str:
    """The page text, repeated as often as needed, cut at the sentence end nearest to `chars`
    characters (and not beyond `at_most`), so that no sentence is cut in half."""
    limit = at_most or 2 * chars
    repeats = limit // len(PAGE_TEXT) + 1
    text = "\n\n".join([PAGE_TEXT] * repeats)
    ends = [match.end() for match in _SENTENCE_END.finditer(text) if match.end() <= limit]
    if not ends:
        return text[:chars]
    return text[: min(ends, key=lambda end: abs(end - chars))]
