"""Extractor names to dotted paths, and loading one by name.

Settings may map a name to another class (a test double, a different PDF backend); this module
only imports what is asked for, so a format whose libraries are missing or slow to import costs
nothing until a file of that format arrives.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import cast

from document_processing.extractors.base import Extractor

__all__ = ["DEFAULT_EXTRACTORS", "UnknownExtractorError", "get_extractor"]

DEFAULT_EXTRACTORS: dict[str, str] = {
    "pdf": "document_processing.extractors.pdf.PdfExtractor",
    "epub": "document_processing.extractors.epub.EpubExtractor",
    "docx": "document_processing.extractors.docx.DocxExtractor",
    "html": "document_processing.extractors.html.HtmlExtractor",
    "markdown": "document_processing.extractors.text.MarkdownExtractor",
    "text": "document_processing.extractors.text.TextExtractor",
}


class UnknownExtractorError(LookupError):
    """No extractor is registered under the name (a configuration or detection mismatch)."""


def get_extractor(name: str, *, registry: Mapping[str, str] | None = None) -> Extractor:
    """A new instance of the extractor registered as `name` (DEFAULT_EXTRACTORS by default).

    Raises UnknownExtractorError for an unregistered name, and ImportError when the dotted path
    does not lead to a class with the Extractor interface: both are configuration errors.
    """
    mapping = DEFAULT_EXTRACTORS if registry is None else registry
    try:
        dotted_path = mapping[name]
    except KeyError:
        raise UnknownExtractorError(f"No extractor is registered for {name!r}.") from None
    extractor_class = _import_class(dotted_path)
    extractor = extractor_class()
    if not callable(getattr(extractor, "extract", None)) or not getattr(extractor, "name", None):
        raise ImportError(f"{dotted_path} does not implement the Extractor protocol.")
    return cast(Extractor, extractor)


def _import_class(dotted_path: str) -> type:
    module_path, _, class_name = dotted_path.rpartition(".")
    if not module_path:
        raise ImportError(f"{dotted_path!r} is not a dotted path to a class.")
    module = importlib.import_module(module_path)
    try:
        found = getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"{module_path} has no attribute {class_name!r}.") from None
    if not isinstance(found, type):
        raise ImportError(f"{dotted_path} is not a class.")
    return found
