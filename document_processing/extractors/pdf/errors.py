"""The errors a PDF is refused with: messages safe to show a person, and their codes.

Codes: "empty", "not_pdf", "unreadable", "encrypted", "too_many_pages", "too_long".
"""

from __future__ import annotations

from document_processing.extractors.base import ExtractionError, ExtractionLimits

MSG_EMPTY = "This file is empty."
MSG_NOT_PDF = "This file is not a PDF document."
MSG_DAMAGED = "This file could not be read as a PDF. It may be damaged or incomplete."
MSG_NO_PAGES = "This PDF has no pages."
MSG_ENCRYPTED = "This PDF is protected by a password. Remove the password and upload it again."
MSG_UNSUPPORTED_SECURITY = "This PDF is protected by a kind of encryption that cannot be read."


def _too_long(limits: ExtractionLimits) -> ExtractionError:
    return ExtractionError(
        f"This PDF has more text than allowed (more than {limits.max_chars:,} characters).",
        code="too_long",
    )
