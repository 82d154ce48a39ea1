"""PDF files to pages of Markdown, with pdfium (fast) and pdfminer.six (column layouts).

For each document, one module a step:

1. `opening`: open it with pdfium. Password-protected, damaged and over-long files fail with an
   `ExtractionError` whose message (`errors`) is safe to show; the page count is checked before
   any page is read. A file pdfium refuses is read by pdfminer.six instead, if it can
   (`_read_share_with_pdfminer`).
2. `reading`: read each page's text with the position of every line (`lines`). Pages whose text
   boxes stand in two columns are read again with pdfminer's layout analysis, because pdfium
   follows the content stream, which for such pages often runs row by row across both columns.
   Pages with images but no text layer are recognised by `ocr` with the `tesseract` binary when
   it is installed and allowed.
3. `running`: drop running headers and footers: lines at the top or bottom of a page that,
   digits aside, repeat on most pages.
4. `paragraphs`: clean the text (NFKC, control characters, hyphenation; `lines`) and join lines
   into paragraphs using their positions: a gap, an indent, a change of size or a line that
   ends early starts a new one. Short, larger lines become `##` headings (the first one is the
   page title), bullets a list; all other text is escaped so that the Markdown renders as
   exactly that text.

One `ExtractedPage` per PDF page, except that a page longer than `limits.page_max_chars` is cut
into consecutive parts by `splitting.fit_markdown`, as other formats are (with a note). A
document without any text comes back as empty pages plus notes that say why; whether that is a
failure is for the service to decide.

`cover`: the cover is page 1, drawn `_COVER_SIDE` pixels on its longest side (a few
milliseconds) and normalised by `extractors.cover.cover_from_image`. A first page that cannot be
drawn, is blank, or holds images larger than `limits.cover_max_pixels` gives no cover, never a
failure.

Error codes: "empty", "not_pdf", "unreadable", "encrypted", "too_many_pages", "too_long".

`shares`: a long document can be shared between processes (`isolation.PartedExtractor`): each
reads a range of pages (steps 1 and 2) and surveys them; what needs every page (the body text
size, the running lines of step 3, the words the document writes with a hyphen) is decided once
from the surveys; each share then finishes its pages (step 4) and the parts are joined.
`extractor.PdfExtractor.extract` takes the same steps in one process, so both give the same
result. Only the share holding page 1 draws the cover; it travels with that share's finished
pages, in base64, and `combine` takes it from there after checking that it is a JPEG.

pdfium is not thread-safe, so calls into it are serialised by a lock; run untrusted files through
`isolation.run_isolated`, which also gives each extraction its own process (or several).
"""

from document_processing.extractors.pdf.errors import MSG_ENCRYPTED
from document_processing.extractors.pdf.extractor import PdfExtractor

__all__ = ["MSG_ENCRYPTED", "PdfExtractor"]
