import re
from typing import Any

from django.db import migrations, models

_ATX_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.+?)[ \t#]*")
_FENCE = re.compile(r" {0,3}(?:`{3,}|~{3,})")
_ESCAPE = re.compile(r"\\(.)")
_TITLE_CHARS = 60


def _first_words(text: str) -> str:
    words = " ".join(text[: _TITLE_CHARS * 4].split())
    if len(words) <= _TITLE_CHARS:
        return words
    room = words[: _TITLE_CHARS - 1]
    cut = room.rfind(" ")
    if cut >= _TITLE_CHARS // 3:
        room = room[:cut]
    return room.rstrip(" ,;:.-\u2013\u2014") + "\u2026"


def _first_heading(markdown: str) -> str:
    in_code = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and (heading := _ATX_HEADING.fullmatch(line)):
            return _ESCAPE.sub(r"\1", heading.group(1)).strip()
    return ""


def name_untitled_pages(apps: Any, schema_editor: Any) -> None:
    """Pages made before every page had a name: their first heading, else their first words.
    (A frozen copy of `extraction.page_title`, simplified to ATX headings.)"""
    Page = apps.get_model("document_processing", "Page")
    untitled = Page.objects.filter(title="").only("id", "markdown", "text")
    for page in untitled.iterator(chunk_size=500):
        title = _first_heading(page.markdown) or _first_words(page.text)
        if title:
            Page.objects.filter(pk=page.pk).update(title=title[:300])


class Migration(migrations.Migration):
    dependencies = [
        ("document_processing", "0004_page_import"),
    ]

    operations = [
        migrations.AddField(
            model_name="page",
            name="is_contents",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(name_untitled_pages, migrations.RunPython.noop, elidable=True),
    ]
