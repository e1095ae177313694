"""newsroom/frozen.py: partials rendered once per process, with each page's values put in."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from newsroom.frozen import frozen
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.fixture(autouse=True)
def _uncached_pages(settings):
    settings.PAGE_CACHE_SECONDS = 0


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return TOKEN.sub('name="csrfmiddlewaretoken" value="token"', response.content.decode())


@pytest.mark.parametrize(
    ("partial", "values"),
    [
        ("_site_head.html", {}),
        ("_site_search.html", {"query": 'rail <b>line</b> "now"'}),
        ("_site_footer.html", {}),
        ("accounts/_nav_anonymous.html", {}),
        ("accounts/_nav_reader.html", {"name": "<i>Riley</i> & co", "csrf_token": "t" * 64}),
    ],
)
def test_a_frozen_partial_is_the_partial_rendered_with_the_pages_values(partial, values):
    expected = render_to_string(
        partial, {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL, **values}
    )
    assert frozen(partial, **values) == expected
    assert frozen(partial, **values) == expected  # and again, from the pieces kept


def test_the_readers_name_and_the_search_words_are_escaped_where_they_are_put_in(client, published_article):
    client.force_login(factories.make_commenter(display_name="<script>x</script> Reader"))
    html = _page(client, "/search/?q=" + "rail <b>line</b>")
    assert f'<a href="{reverse("profile")}">&lt;script&gt;x&lt;/script&gt; Reader</a>' in html
    assert 'name="q" value="rail &lt;b&gt;line&lt;/b&gt;"' in html
    assert "<script>x</script>" not in html and "<b>line</b>" not in html


def test_the_log_out_form_carries_the_readers_token(client):
    reader = factories.make_commenter()
    client.force_login(reader)
    html = client.get("/").content.decode()
    form = html[html.index(f'action="{reverse("account_logout")}"') :]
    token = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"', form)
    assert token is not None
    assert client.post(reverse("account_logout"), {"csrfmiddlewaretoken": token.group(1)}).status_code == 302
