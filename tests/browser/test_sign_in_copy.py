"""The sign-in pages speak the app's sentence case ("Sign in", "Forgot password?"), not allauth's
Title Case; and the English catalogue that does it is in step with the installed allauth."""

from __future__ import annotations

import gettext
import re

import pytest
from playwright.sync_api import expect

TITLE_CASE = re.compile(r"\b(Sign In|Sign Up|Sign Out|Forgot Password|Password Reset|Remember Me|Reset My Password)\b")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/login/", "Sign in"),
        ("/accounts/signup/", "Sign up"),
        ("/accounts/password/reset/", "Password reset"),
    ],
)
def test_sign_in_pages_use_sentence_case(page, daphne_url, path, heading):
    page.goto(f"{daphne_url}{path}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    text = page.locator("body").inner_text()
    assert not TITLE_CASE.search(text), TITLE_CASE.search(text).group(0)


def test_the_catalogue_matches_the_installed_allauth_and_is_compiled(tmp_path, settings):
    import sys

    from scripts.allauth_sentence_case import main

    po = settings.BASE_DIR / "locale/en/LC_MESSAGES/django.po"

    argv, sys.argv = sys.argv, ["allauth_sentence_case", str(tmp_path / "django.po")]
    try:
        main()
    finally:
        sys.argv = argv
    assert (tmp_path / "django.po").read_text() == po.read_text(), "run scripts/allauth_sentence_case.py and msgfmt"
    with open(po.with_suffix(".mo"), "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    blocks = re.findall(r'^(?:msgctxt "(.*)"\n)?msgid "(.+)"\nmsgstr "(.+)"$', po.read_text(), flags=re.M)
    assert len(blocks) > 50
    for context, msgid, msgstr in blocks:
        assert (compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)) == msgstr, msgid
