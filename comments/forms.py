from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .services import MAX_BODY_LENGTH


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Your comment"),
        max_length=MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_BODY_LENGTH}),
        help_text=_("*emphasis*, **bold**, [links](https://…), `code`, > quotes and lists work."),
        error_messages={"required": _("Please write something before posting.")},
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)
    claim = forms.CharField(required=False, max_length=16, label=_("About"))
    reports_wrong_claim = forms.BooleanField(required=False, label=_("This looks wrong"))
    # Honeypot: hidden from people by CSS, irresistible to form-filling bots.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class CommentEditForm(forms.Form):
    body = forms.CharField(
        label=_("Your comment"),
        max_length=MAX_BODY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": MAX_BODY_LENGTH}),
        error_messages={"required": _("Please write something before posting.")},
    )
