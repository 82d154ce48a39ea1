from __future__ import annotations

import factory

from document_processing.extraction import page_from_markdown
from document_processing.models import Document, Page
from users.tests.factories import UserFactory


class DocumentFactory(factory.django.DjangoModelFactory[Document]):
    class Meta:
        model = Document

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Document {n}")
    source_type = Document.SourceType.TEXT
    status = Document.Status.COMPLETED
    detected_type = "markdown"


class PageFactory(factory.django.DjangoModelFactory[Page]):
    class Meta:
        model = Page

    document = factory.SubFactory(DocumentFactory)
    number = factory.Sequence(lambda n: n + 1)
    markdown = factory.LazyAttribute(lambda page: f"# Page {page.number}\n\nSome words to read.")
    title = factory.LazyAttribute(lambda page: f"Page {page.number}")
    text = factory.LazyAttribute(lambda page: page_from_markdown(page.markdown, number=1).text)
    char_count = factory.LazyAttribute(lambda page: len(page.text))


def document_with_pages(*, owner: object, pages: int = 3, **fields: object) -> Document:
    document = DocumentFactory.create(owner=owner, page_count=pages, **fields)
    for number in range(1, pages + 1):
        PageFactory.create(document=document, number=number)
    return document
