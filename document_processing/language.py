"""The language a text is written in, as a BCP 47 tag ("en", "ar", "pt-BR"): detected, or
declared by its source, or given by a person.

Detection uses py3langid (langid.py's model, 140 languages, shipped inside the package). Its
answers on a few words are guesses, so a page whose text is too short or too mixed to be sure of
takes its document's language instead, and a document's language is the one most of its
confidently detected characters are in.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf.locale import LANG_INFO

# Enough text to be sure of a language (about 150 words); the start of a long page says as much
# as all of it. Detection takes time in proportion: on the test corpus, twice as much text
# changed no page's language.
SAMPLE_CHARS = 1000
# Most pages are told by their first lines: these are read first, and the rest of the sample only
# when they leave a doubt (an opening quotation in another language, a list of names or numbers).
# On the test corpus, neither changed any page's language.
FIRST_SAMPLE_CHARS = 400
SURE = 0.95
# Below this share of the (folded) probability the answer is a guess and is not kept.
MIN_CONFIDENCE = 0.5
# Fewer letters than this say too little to be detected at all; a Chinese or Japanese character
# (or a Korean syllable), which holds a word or most of one, counts as two.
MIN_LETTERS = 8
_WIDE_LETTERS = 0x2E80

# Labels of the model that are varieties of a language a reader and a voice treat as one:
# dialects rarely written in books (Egyptian and Moroccan Arabic, Wu Chinese) and the model's
# historical Hebrew, whose scores otherwise split the written language's share.
_FOLDED = {"ary": "ar", "arz": "ar", "wuu": "zh", "hbo": "he"}
_FOLDING = frozenset(_FOLDED) | frozenset(_FOLDED.values())
# "No linguistic content" and "undetermined": no language.
_NONE = frozenset({"zxx", "und"})

# The model's labels (tests check this against the model): known without loading it, so a web
# process that checks a tag a person typed never pays for the model.
DETECTOR_LANGUAGES = frozenset({
    "ace", "af", "am", "an", "ar", "ary", "arz", "as", "az", "ba", "bcl", "be", "bg", "bn", "br",
    "bs", "ca", "crh", "cs", "cy", "da", "de", "dz", "el", "en", "eo", "es", "et", "eu", "ext",
    "fa", "fi", "fo", "fr", "fuv", "fy", "ga", "gcf", "gcr", "gd", "gl", "gom", "grc", "gu",
    "gug", "guw", "ha", "hbo", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "is", "it", "ja",
    "jv", "ka", "kab", "kik", "kk", "km", "kn", "ko", "ku", "ky", "la", "lb", "lg", "lij", "ln",
    "lo", "lt", "ltg", "lv", "mg", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn",
    "no", "nso", "oc", "om", "or", "pa", "pcm", "pl", "ps", "pt", "qu", "ro", "ru", "rw", "sa",
    "sdh", "se", "si", "sk", "sl", "sn", "so", "sq", "sr", "st", "sv", "sw", "ta", "te", "tg",
    "th", "tk", "tl", "tr", "tt", "ug", "uk", "ur", "uz", "uzs", "vec", "vi", "vo", "wa", "wuu",
    "xh", "yo", "yue", "zh", "zu", "zxx"
})  # fmt: skip

# Languages written right to left (primary subtags); a script subtag overrides (az-Arab, ur-Latn).
_RTL_LANGUAGES = frozenset(
    {"ar", "arc", "ary", "arz", "ckb", "dv", "fa", "he", "hbo", "ks", "prs", "ps", "sd", "sdh",
     "syr", "ug", "ur", "uzs", "yi"}
)  # fmt: skip
_RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Mand", "Samr"})

_TAG = re.compile(
    r"(?P<language>[a-z]{2,3})(?:-(?P<script>[A-Z][a-z]{3}))?(?:-(?P<region>[A-Z]{2}|\d{3}))?"
)

_lock = threading.Lock()
_model: Any = None


@dataclass(frozen=True)
class Detection:
    language: str  # a BCP 47 tag, or "" when the text says too little
    confidence: float  # the share of the model's probability the language holds, 0 to 1


def _identifier() -> Any:
    """The model, loaded once per process on first use (a few seconds, about 100 MB): by the
    workers that extract documents, never by a web request."""
    global _model
    with _lock:
        if _model is None:
            from py3langid.langid import (
                MODEL_FILE,
                LanguageIdentifier,
            )

            _model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _model


def load_model() -> None:
    """Load the model now, if it is not loaded: in a process about to fork children that
    detect languages, so that they share it."""
    _identifier()


def detect(text: str) -> Detection:
    """The language of `text`, or "" (confidence 0) when it is too short or too unsure."""
    if len(text) > FIRST_SAMPLE_CHARS:
        first = _detect_sample(text[:FIRST_SAMPLE_CHARS])
        if first.language and first.confidence >= SURE:
            return first
    return _detect_sample(text[:SAMPLE_CHARS])


def _detect_sample(sample: str) -> Detection:
    if not _says_enough(sample):
        return Detection("", 0.0)
    identifier = _identifier()
    label, confidence = identifier.classify(sample)
    if confidence > MIN_CONFIDENCE and label not in _FOLDING:
        # More than half the probability, on a label no folding touches: no folded sum of the
        # others can reach it, so ranking every label would give the same answer.
        return Detection("" if label in _NONE else label, float(confidence))
    scores: dict[str, float] = dict(identifier.rank(sample))
    for variety, language in _FOLDED.items():
        if variety in scores:
            scores[language] = scores.get(language, 0.0) + scores.pop(variety)
    label = max(scores, key=scores.__getitem__)
    confidence = scores[label]
    if label in _NONE or confidence < MIN_CONFIDENCE:
        return Detection("", float(confidence))
    return Detection(label, float(confidence))


def _says_enough(sample: str) -> bool:
    """Whether `sample` has MIN_LETTERS letters: counted until there are enough, as most pages
    have in their first words."""
    letters = 0
    for character in sample:
        if character.isalpha():
            letters += 2 if ord(character) >= _WIDE_LETTERS else 1
            if letters >= MIN_LETTERS:
                return True
    return False


def document_languages(
    texts: Sequence[str], *, declared: str = "", detected: Sequence[str] | None = None
) -> tuple[str, list[str]]:
    """The document's language and each page's, for the pages' spoken `texts`.

    A page that says too little takes the document's language. The document's is the language
    of most confidently detected characters; when no page is sure, the first pages together
    decide; a language the source declares is kept when detection does not contradict it
    (with its region: "pt-BR" rather than "pt").

    `detected`: each page's `detect(text).language`, when it is known already.
    """
    if detected is None:
        detected = [detect(text).language for text in texts]
    weights: Counter[str] = Counter()
    for text, language in zip(texts, detected, strict=True):
        if language:
            weights[language] += len(text)
    if weights:
        found = weights.most_common(1)[0][0]
    else:
        found = detect(" ".join(texts)[:SAMPLE_CHARS]).language
    document = honour_declared(declared, found)
    pages = [honour_declared(document, language) if language else document for language in detected]
    return document, pages


def honour_declared(declared: str, detected: str) -> str:
    """The declared language when it is valid and detection found nothing else, else the
    detected one. A source's declaration is often a template's default, so a confident
    detection of another language wins; one of the same language keeps the declared region."""
    tag = normalise(declared)
    if not tag or not is_known(tag):
        return detected
    if not detected or primary(detected) == primary(tag):
        return tag
    return detected


def normalise(tag: str) -> str:
    """ "EN_us", "zh-hant" and "en-GB" as BCP 47 spells them: "en-US", "zh-Hant", "en-GB".
    Private and extension subtags are dropped; "" for anything that is no language tag."""
    parts = [part for part in re.split(r"[-_]", tag.strip()) if part]
    if not parts or not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3:
        return ""
    spelled = [parts[0].lower()]
    for part in parts[1:3]:
        if len(part) == 4 and part.isalpha():
            spelled.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            spelled.append(part.upper())
        else:
            break
    candidate = "-".join(spelled)
    return candidate if _TAG.fullmatch(candidate) else ""


def primary(tag: str) -> str:
    """The language subtag: "pt" of "pt-BR"."""
    return tag.partition("-")[0].lower()


# Language subtags Pagecast accepts: those the detector knows and those Django names.
KNOWN_LANGUAGES = (DETECTOR_LANGUAGES - _NONE) | {primary(code) for code in LANG_INFO}


def is_known(tag: str) -> bool:
    """Whether `tag` (normalised) is a well-formed tag of a language Pagecast knows."""
    match = _TAG.fullmatch(tag)
    return match is not None and match["language"] in KNOWN_LANGUAGES


def text_direction(tag: str) -> str:
    """ "rtl" for a language written right to left (Arabic, Hebrew, Persian, Urdu…), else "ltr"."""
    match = _TAG.fullmatch(normalise(tag))
    if match is None:
        return "ltr"
    if match["script"]:
        return "rtl" if match["script"] in _RTL_SCRIPTS else "ltr"
    return "rtl" if match["language"] in _RTL_LANGUAGES else "ltr"
