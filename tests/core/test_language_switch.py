"""The language switch names each language in itself («中文», «English»), whatever
language the page is in, so a reader of either can find their own."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse


def _switch(html: str) -> str:
    match = re.search(r'<form[^>]*data-testid="language-switch".*?</form>', html, re.S)
    assert match, "no language switch on the page"
    return match.group(0)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("logged_in", [False, True])
def test_the_switch_names_each_language_in_itself(cast, client, language, logged_in):
    if logged_in:
        client.force_login(cast.manager_a)
    client.cookies["django_language"] = language
    response = client.get(reverse("home") if logged_in else reverse("login"), follow=True)
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    switch = _switch(html)
    assert "中文" in switch and "English" in switch
    assert "英语" not in switch and "Chinese" not in switch
    # The current language is shown, the other one is the button.
    other = "en" if language == "zh-hans" else "zh-hans"
    assert f'name="language" value="{other}"' in switch
    assert f'value="{language}"' not in switch


def test_switching_to_english_and_back(client, db):
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("login")}, follow=True
    )
    assert '<html lang="en">' in response.content.decode()
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("login")}, follow=True
    )
    assert '<html lang="zh-hans">' in response.content.decode()
