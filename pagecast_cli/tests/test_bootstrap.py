"""Django for the command: set up once, from the command's settings unless told otherwise."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from pagecast_cli.bootstrap import setup_django
from pagecast_cli.tests.conftest import error_line, run


def test_setting_up_twice_changes_nothing() -> None:
    before = settings.SETTINGS_MODULE
    setup_django()
    setup_django()
    assert before == settings.SETTINGS_MODULE


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = run(
        "voices",
        cwd=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": None, "PIPER_THREADS": "many"},
    )
    assert result.returncode == 1
    assert error_line(result.stderr) == "PIPER_THREADS='many' is not a valid integer ≥ 1."


def test_another_settings_module_can_be_chosen(tmp_path: Path) -> None:
    # The test settings add the fake engine; the command's own settings do not.
    own = run("voices", "-q", cwd=tmp_path, env={"DJANGO_SETTINGS_MODULE": None})
    assert own.returncode == 0, own.stderr
    listed = own.stdout.split()
    assert listed[0] == "piper:en_US-joe-medium"  # the default first
    assert not any(voice.startswith("fake:") for voice in listed)
    chosen = run("voices", "-q", cwd=tmp_path, env={"DJANGO_SETTINGS_MODULE": "core.settings.test"})
    assert chosen.returncode == 0, chosen.stderr
    chosen_ids = chosen.stdout.split()
    assert chosen_ids[0] == "fake:alpha"  # the test settings' default, first
    assert "fake:beta" in chosen_ids
