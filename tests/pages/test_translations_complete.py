"""The guard of issue 13's "every page in English and Simplified Chinese": a template, page view, form, flash
message, notification text or page script whose words are not wrapped for translation, or wrapped but without
a zh_Hans msgstr, fails here with the list of what is missing. To fix: wrap the text ({% translate %},
{% blocktranslate %}, gettext), run `python manage.py update_catalogs` (or `make catalogs`), fill the empty msgstr
it added to locale/zh_Hans/LC_MESSAGES/django.po or djangojs.po, and run it again to compile."""

import re
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

from upgrades.management import catalogs

FIX = "wrap it, then `python manage.py update_catalogs`, fill msgstr in locale/zh_Hans/LC_MESSAGES/*.po, run it again"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%%")


def _listing(lines):
    return "\n  " + "\n  ".join(lines)


def test_every_template_and_page_string_is_wrapped_for_translation():
    unwrapped = catalogs.unwrapped_template_text() + catalogs.unwrapped_python_text()
    assert not unwrapped, f"{len(unwrapped)} text(s) outside translate tags ({FIX}):{_listing(unwrapped)}"


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_wrapped_string_has_a_chinese_translation(domain):
    missing = catalogs.missing(domain)
    lines = [
        f"msgid {m.msgid!r}" + (f" msgctxt {m.msgctxt!r}" if m.msgctxt else "") + f"  [{', '.join(m.places[:2])}]"
        for m in missing
    ]
    assert not missing, f"{len(missing)} msgid(s) without a zh_Hans msgstr in {domain}.po ({FIX}):{_listing(lines)}"


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_translations_keep_their_placeholders(domain):
    wrong = []
    for entry in polib.pofile(str(catalogs.po_path(domain))):
        for text in [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values()):
            if text and sorted(PLACEHOLDER.findall(entry.msgid)) != sorted(PLACEHOLDER.findall(text)):
                wrong.append(f"{entry.msgid!r} -> {text!r}")
    assert not wrong, f"placeholders differ:{_listing(wrong)}"


def test_the_committed_mo_files_are_up_to_date():
    call_command("compile_catalogs", check=True)


def test_the_guard_finds_english_outside_translate_tags(tmp_path, monkeypatch, settings):
    """The guard itself: a new template with plain English (text, an attribute people read), and one wrapped
    string with no Chinese yet, are both reported by name; code and product names are not."""
    templates = tmp_path / "templates" / "pages"
    templates.mkdir(parents=True)
    (templates / "fleet_new.html").write_text(
        '{% load i18n %}<h1>{% translate "Fleet at scale" %}</h1>\n'
        '<p title="Estimated finish">{% blocktranslate %}ETA {{ eta }}{% endblocktranslate %}</p>\n'
        "<p>Nothing to see yet</p> <code>manage.py seed_fleet</code> <span>OceanBase · obshell · CSV</span>\n"
        "{% comment %}Not shown{% endcomment %}<script>const x = 'ignored';</script>\n"
    )
    (tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES").mkdir(parents=True)
    monkeypatch.setattr(settings, "BASE_DIR", Path(tmp_path))
    unwrapped = catalogs.unwrapped_template_text()
    assert unwrapped == [
        "templates/pages/fleet_new.html:2: Estimated finish",
        "templates/pages/fleet_new.html:3: Nothing to see yet",
    ]
    missing = {m.msgid: m.places for m in catalogs.missing("django")}
    assert missing["Fleet at scale"] == ["templates/pages/fleet_new.html:1"]
    assert "ETA %(eta)s" in missing
