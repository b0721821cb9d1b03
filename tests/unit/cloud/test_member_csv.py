"""Reading a gym system's member export: header guessing, every line's checks, line numbers."""

from __future__ import annotations

from datetime import date

import pytest

from cloud_api import member_csv as mc
from contract.badge import BadgeEncoding, BadgeRules, ByteOrder

FRENCH = (
    "N° adhérent;Prénom;Nom;E-mail;N° badge;Date fin;Statut;Langue\n"
    "A1;Léa;Martin;lea@example.com;04:a2:3b:1c;31/12/2026;actif;fr\n"
    "A2;Hugo;Petit;;04A23B1D;2027-01-31;suspendu;EN\n"
)


def mapping(text: str, **rules: object) -> mc.Mapping:
    header, delimiter = mc.header_of(text)
    return mc.Mapping(mc.guess_mapping(header), BadgeRules.model_validate(rules), delimiter)


def test_a_french_export_is_understood_without_help() -> None:
    m = mapping(FRENCH)
    assert m.delimiter == ";"
    assert m.columns == {
        "external_id": "N° adhérent",
        "badge_id": "N° badge",
        "first_name": "Prénom",
        "last_name": "Nom",
        "email": "E-mail",
        "membership_expires_on": "Date fin",
        "status": "Statut",
        "language": "Langue",
    }
    checked = mc.validate(FRENCH, m)
    assert checked.ok
    assert checked.rows == [
        {
            "line": 2,
            "external_id": "A1",
            "first_name": "Léa",
            "last_name": "Martin",
            "email": "lea@example.com",
            "badge_id": "04A23B1C",
            "membership_expires_on": date(2026, 12, 31),
            "is_active": True,
            "language": "fr",
        },
        {
            "line": 3,
            "external_id": "A2",
            "first_name": "Hugo",
            "last_name": "Petit",
            "badge_id": "04A23B1D",
            "membership_expires_on": date(2027, 1, 31),
            "is_active": False,
            "language": "en",
        },
    ]


def test_the_gyms_remembered_choice_wins_over_a_guess() -> None:
    header = ["Card", "Name", "First", "Badge"]
    assert mc.guess_mapping(header, {"badge_id": "Card"})["badge_id"] == "Card"
    assert mc.guess_mapping(header, {"badge_id": "Gone"})["badge_id"] == "Badge"


def test_badges_follow_the_gyms_reader_rules() -> None:
    text = "Prénom,Badge\nLéa,0305897988\n"
    m = mapping(text, encoding=BadgeEncoding.DECIMAL, byte_order=ByteOrder.LSB_FIRST)
    assert mc.validate(text, m).rows[0]["badge_id"] == "04A23B12"


def test_every_problem_is_reported_with_its_line_and_nothing_passes() -> None:
    text = (
        "Prénom,Nom,Badge,Date fin,Statut,E-mail\n"
        "Léa,Ok,0A0B0C0D,31/12/2026,actif,lea@example.com\n"
        ",Noname,0A0B0C0E,31/12/2026,actif,\n"
        "Zed,Bad,XYZ,31/12/2026,actif,\n"
        '"Multi\nline",Date,0A0B0C0F,31/13/2026,actif,\n'
        "Dup,Badge,0a-0b-0c-0d,,maybe,not-an-email\n"
        "Max,Twice,0A0B0C0D,,,\n"
    )
    checked = mc.validate(text, mapping(text))
    assert not checked.ok
    assert checked.total == 6
    assert [(p.line, p.field) for p in checked.problems] == [
        (3, "first_name"),
        (4, "badge_id"),
        (6, "membership_expires_on"),  # the record spans lines 5-6
        (7, "email"),
        (7, "status"),
        (8, "badge_id"),
    ]
    assert "also on line 2" in checked.problems[-1].problem
    assert "not hexadecimal" in checked.problems[1].problem


def test_a_missing_required_column_is_said_before_reading_lines() -> None:
    text = "Nom,Badge\nMartin,0A0B0C0D\n"
    checked = mc.validate(text, mapping(text))
    assert [(p.line, p.field) for p in checked.problems] == [(1, "first_name")]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"a,b,a\n1,2,3\n", "same name")],
)
def test_unusable_files_are_refused_in_one_sentence(data: bytes, message: str) -> None:
    with pytest.raises(mc.FileRefused, match=message):
        mc.header_of(mc.decode(data))


def test_windows_1252_exports_are_read() -> None:
    data = "Prénom;Badge\nLéa;0A0B0C0D\n".encode("cp1252")
    text = mc.decode(data)
    assert mc.validate(text, mapping(text)).rows[0]["first_name"] == "Léa"
