"""accounts/names.py and the profile form: a reader's public name cannot pass for the staff's.

Refused: a staff member's name and its look-alikes (case, spacing, punctuation, accents,
full-width and Cyrillic/Greek letters, 0/o and 1/l/i), and names with a word claiming a
newsroom role. Staff are marked in the discussion instead (tests/comments/test_staff_badge.py).
"""

from __future__ import annotations

import time

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.names import claims_staff_role, display_name_problem, name_skeleton
from tests import factories


@pytest.fixture
def staff_member(db):
    return factories.make_user(email="sam.quinn@example.com", staff=True, display_name="Sam Quinn")


def save_name(client, user, name: str):
    client.force_login(user)
    return client.post(reverse("profile"), {"display_name": name, "notify_replies": "on"})


@pytest.mark.parametrize(
    "name",
    [
        "Sam Quinn",
        "sam quinn",
        "SAM   QUINN",
        "Sam_Quinn",
        "SamQuinn",
        "Sаm Quinn",  # Cyrillic а
        "Ｓａｍ Ｑｕｉｎｎ",  # full-width
        "Såm Quïnn",
        "Sam Qu1nn",
        "Sam Qulnn",
        "Sam Quinn.",
    ],
)
def test_a_reader_cannot_take_a_staff_members_name_or_a_look_alike(client, commenter, staff_member, name):
    response = save_name(client, commenter, name)
    assert response.status_code == 200
    assert "too close to a staff member" in response.content.decode()
    commenter.refresh_from_db()
    assert commenter.display_name == "Riley Reader"


def test_a_staff_member_without_a_display_name_is_protected_by_the_name_they_show(client, commenter):
    factories.make_user(email="pat.lee@example.com", staff=True)  # shows as "pat.lee"
    assert "too close to a staff member" in save_name(client, commenter, "Pat Lee").content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "Demo Editor",
        "EDITOR",
        "The Moderators",
        "Site Admin",
        "NewsroomTeam",
        "Ed1tor Riley",
        "Staff",
        "newsr00m",
    ],
)
def test_a_reader_cannot_take_a_name_that_claims_a_newsroom_role(client, commenter, name):
    response = save_name(client, commenter, name)
    assert response.status_code == 200 and "kept for the staff" in response.content.decode()
    commenter.refresh_from_db()
    assert commenter.display_name == "Riley Reader"


@override_settings(SITE_NAME="The Daily Brief")
def test_the_sites_own_name_is_reserved_but_not_its_words(db):
    assert claims_staff_role("the daily brief") and claims_staff_role("TheDailyBrief")
    assert not claims_staff_role("Daily Dan")


@pytest.mark.parametrize(
    "name",
    [
        "Creditor Jones",
        "Badminton Fan",
        "Sam Quincy",
        "Anne-Marie Øster",
        "محمد",
        "山田太郎",
        "🦊 Fox",
        "می‌خواهم",
    ],
)
def test_ordinary_names_stay_available(client, commenter, staff_member, name):
    assert save_name(client, commenter, name).status_code == 302
    commenter.refresh_from_db()
    assert commenter.display_name == name


@pytest.mark.parametrize("name", ["\u202eniuQ maS", "Sam\u200bQuinn", "Riley\u2028Reader", "Ri\ue000ley"])
def test_names_with_invisible_or_direction_characters_are_refused(client, commenter, staff_member, name):
    response = save_name(client, commenter, name)
    assert "invisible, control or text-direction" in response.content.decode()


def test_staff_may_name_their_role_but_not_take_another_staff_members_name(editor, staff_member):
    assert display_name_problem(name="Demo Editor", user=editor) is None
    assert display_name_problem(name="Erin Editor", user=editor) is None  # their own name
    assert "staff member" in display_name_problem(name="Sam Quinn", user=editor)


def test_an_address_that_claims_a_role_never_becomes_a_readers_public_name(db):
    reader = factories.make_user(email="editor@mail.example")
    assert reader.public_name == f"reader {reader.pk}"
    # A name chosen before the rule falls back to the start of the address.
    chosen_earlier = factories.make_user(email="jo@example.com", display_name="Moderator Jo")
    assert chosen_earlier.public_name == "jo"


def test_staff_keep_their_names_and_addresses(moderator, editor):
    assert moderator.public_name == "moderator" and editor.public_name == "Erin Editor"


def test_the_name_check_is_linear_on_long_adversarial_names(db):
    started = time.perf_counter()
    for text in ["Aa" * 5000, "rn" * 5000, "\u0301" * 10000, "Ｅ" * 10000]:
        name_skeleton(text)
        claims_staff_role(text)
    assert time.perf_counter() - started < 1.0
