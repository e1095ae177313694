from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group

from tests import factories

User = get_user_model()


def test_email_is_the_login_and_is_stored_lower_case(db):
    user = User.objects.create_user(email="Ada@Example.COM", password="s3cret-pass-phrase")
    assert user.email == "ada@example.com"
    assert authenticate(username="ada@example.com", password="s3cret-pass-phrase") == user


def test_a_user_without_email_cannot_be_created(db):
    with pytest.raises(ValueError):
        User.objects.create_user(email="", password="x")
    assert not User.objects.exists()


def test_public_name_never_shows_the_full_email(db):
    assert factories.make_user(email="sam@example.com").public_name == "sam"
    assert factories.make_user(display_name="Sam A.").public_name == "Sam A."


def test_the_editors_group_can_approve_but_not_moderate(editor):
    assert editor.has_perm("articles.approve_article")
    assert editor.has_perm("articles.change_summary")
    assert not editor.has_perm("comments.moderate_comment")
    assert not editor.has_perm("articles.delete_article")


def test_the_moderators_group_manages_comments_only(moderator):
    assert moderator.has_perm("comments.moderate_comment")
    assert moderator.has_perm("comments.change_comment")
    assert not moderator.has_perm("articles.approve_article")
    assert not moderator.has_perm("articles.change_summary")


def test_other_staff_and_readers_have_no_desk_permissions(other_staff, reader):
    for user in (other_staff, reader):
        assert not user.has_perm("articles.approve_article")
        assert not user.has_perm("comments.moderate_comment")


def test_both_groups_exist_after_migrating(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Editors", "Moderators"}
