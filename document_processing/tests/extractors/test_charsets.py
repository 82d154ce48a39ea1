# ruff: noqa: RUF001 (text in many scripts, on purpose)
from __future__ import annotations

import codecs

import pytest

from document_processing.extractors.charsets import (
    declared_in_markup,
    decode_bytes,
    display_name,
    encoding_name,
    whole_characters,
)

# Prose long enough for a language to be recognised in it, in each script.
PROSE = {
    "cp1252": "Le cœur a ses raisons que la raison ne connaît point. On le sait en mille choses. "
    "Je dis que le cœur aime l'être universel naturellement, et soi-même naturellement.",
    "cp1250": "Příliš žluťoučký kůň úpěl ďábelské ódy. Více než sto let stojí ta stará "
    "hospoda na kraji vesnice a každý večer se v ní schází celá obec.",
    "cp1251": "В начале было Слово, и Слово было у Бога, и Слово было Бог. Оно было в начале у "
    "Бога. Все через Него начало быть, и без Него ничто не начало быть, что начало быть.",
    "cp1253": "Στην αρχή ήταν ο Λόγος, και ο Λόγος ήταν με τον Θεό, και Θεός ήταν ο Λόγος. "
    "Αυτός ήταν στην αρχή με τον Θεό. Όλα έγιναν μέσω αυτού.",
    "cp1254": "Bütün insanlar hür, haysiyet ve haklar bakımından eşit doğarlar. Akıl ve vicdana "
    "sahiptirler ve birbirlerine karşı kardeşlik zihniyeti ile hareket etmelidirler.",
    "cp1256": "يولد جميع الناس أحراراً متساوين في الكرامة والحقوق. وقد وهبوا عقلاً وضميراً "
    "وعليهم أن يعامل بعضهم بعضاً بروح الإخاء.",
    "cp932": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗い"
    "じめじめした所でニャーニャー泣いていた事だけは記憶している。",
    "euc_jp": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗い"
    "じめじめした所でニャーニャー泣いていた事だけは記憶している。",
    "cp949": "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다. 인간은 "
    "천부적으로 이성과 양심을 부여받았으며 서로 형제애의 정신으로 행동하여야 한다.",
    "gb18030": "人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的"
    "精神相对待。",
    "big5hkscs": "人人生而自由，在尊嚴和權利上一律平等。他們賦有理性和良心，並應以兄弟關係的"
    "精神相對待。",
    "koi8-r": "В начале было Слово, и Слово было у Бога, и Слово было Бог. Оно было в начале у "
    "Бога. Все через Него начало быть, и без Него ничто не начало быть, что начало быть.",
}


@pytest.mark.parametrize("encoding", sorted(PROSE))
def test_undeclared_legacy_text_is_detected(encoding: str) -> None:
    decoded = decode_bytes(PROSE[encoding].encode(encoding))

    assert decoded.text == PROSE[encoding]
    assert decoded.detected
    assert not decoded.replaced


@pytest.mark.parametrize(
    "text",
    ["Latin-1 café", "Café – déjà vu", "Grüße aus Köln", "Привет, мир"],
)
def test_short_undeclared_text_is_read_as_words(text: str) -> None:
    encoding = "cp1251" if text.startswith("П") else "cp1252"

    assert decode_bytes(text.encode(encoding)).text == text


def test_utf8_needs_no_detection_and_a_byte_order_mark_settles_it() -> None:
    assert decode_bytes("naïve ✓".encode()) == decode_bytes("naïve ✓".encode())
    assert not decode_bytes("naïve ✓".encode()).detected
    for bom_encoding in ("utf-8-sig", "utf-16", "utf-32"):
        decoded = decode_bytes("Grüße".encode(bom_encoding))
        assert decoded.text == "Grüße"
        assert not decoded.detected


def test_a_declaration_decides_when_the_bytes_decode_with_it() -> None:
    # Both readings decode: the declaration says which one the author meant.
    data = PROSE["cp1251"].encode("koi8-r")

    assert decode_bytes(data, declared="koi8-r").text == PROSE["cp1251"]


def test_the_web_reads_latin1_labels_as_windows_1252() -> None:
    page = "<meta charset='iso-8859-1'><p>“€5” — café</p>".encode("cp1252")

    assert "<p>“€5” — café</p>" in decode_bytes(page, markup=True).text


def test_valid_utf8_wins_over_a_legacy_label() -> None:
    page = '<meta charset="gb2312"><p>人人生而自由，在尊严和权利上一律平等。</p>'.encode()

    decoded = decode_bytes(page, markup=True)

    assert "人人生而自由，在尊严和权利上一律平等。" in decoded.text
    assert decoded.encoding == "utf-8"


def test_a_label_the_bytes_do_not_decode_with_falls_back_to_detection() -> None:
    page = ("<meta charset='utf-8'><p>" + PROSE["cp1251"] + "</p>").encode("cp1251")

    assert PROSE["cp1251"] in decode_bytes(page, markup=True).text


def test_an_http_charset_comes_before_the_page_s_own() -> None:
    page = ("<meta charset='windows-1251'><p>" + PROSE["koi8-r"] + "</p>").encode("koi8-r")

    assert PROSE["koi8-r"] in decode_bytes(page, declared="KOI8-R", markup=True).text


def test_seven_bit_japanese_is_recognised_by_its_escapes() -> None:
    text = "吾輩は猫である。名前はまだ無い。"

    assert decode_bytes(text.encode("iso2022_jp")).text == text


def test_utf8_cut_inside_its_last_character_is_read_as_utf8() -> None:
    decoded = decode_bytes("naïve café".encode()[:-1])

    assert decoded.text == "naïve caf\ufffd"
    assert decoded.replaced


def test_undecodable_bytes_are_replaced_and_said_so() -> None:
    decoded = decode_bytes(codecs.BOM_UTF8 + b"broken \xff byte")

    assert decoded.text == "broken \ufffd byte"
    assert decoded.replaced


def test_a_long_file_is_judged_by_its_non_ascii_lines() -> None:
    # Megabytes of ASCII markup, then the text: the sample the detector sees is the text.
    data = (b"<div class='x'></div>\n" * 200_000) + PROSE["cp1250"].encode("cp1250")

    assert decode_bytes(data).text.endswith(PROSE["cp1250"])


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("ISO-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("Shift_JIS", "cp932"),
        ("x-sjis", "cp932"),
        ("EUC-KR", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("Big5", "big5hkscs"),
        ("windows-1251", "cp1251"),
        ("utf8", "utf-8"),
        ("x-unknown", None),
    ],
)
def test_encoding_labels_as_browsers_read_them(label: str, codec: str | None) -> None:
    assert encoding_name(label) == codec


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<html><head><meta charset="Shift_JIS">', "cp932"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">', "cp949"),
        (b'<?xml version="1.0" encoding="windows-1253"?><html>', "cp1253"),
        (b"<meta charset='utf-16'>", "utf-8"),  # read as ASCII, so it is not UTF-16
        (b"<meta charset='no-such-thing'>", None),
        (b"<p>no declaration</p>", None),
    ],
)
def test_declarations_in_markup(head: bytes, expected: str | None) -> None:
    assert declared_in_markup(head) == expected


def test_whole_characters_drops_a_character_cut_at_the_end() -> None:
    text = "吾輩は猫である。 名前はまだ無い。".encode("cp932")

    assert whole_characters(text[:-1]) == "吾輩は猫である。 ".encode("cp932")


@pytest.mark.parametrize(
    ("codec", "name"),
    [("cp1251", "Windows-1251"), ("cp932", "Shift_JIS"), ("iso8859-2", "ISO-8859-2")],
)
def test_display_names(codec: str, name: str) -> None:
    assert display_name(codec) == name
