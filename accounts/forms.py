from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import User
from .names import display_name_problem


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "notify_replies"]
        help_texts = {
            "display_name": _(
                "Shown beside your comments. Leave empty to use the start of your email. "
                "Staff names and newsroom roles (editor, moderator, admin) are kept for the staff."
            )
        }

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"]
        problem = display_name_problem(name=name, user=self.instance)
        if problem:
            raise forms.ValidationError(problem, code="reserved")
        return name


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=80,
        help_text=_("What the token is for, so you can tell your tokens apart (for example: my dashboard)."),
    )


class DeleteAccountForm(forms.Form):
    """Deleting an account is final, so the reader proves it is them: their password, or
    their email address when they only ever logged in through GitHub or Google."""

    confirmation = forms.CharField(strip=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        field = self.fields["confirmation"]
        if user.has_usable_password():
            field.label = _("Your password")
            field.widget = forms.PasswordInput(attrs={"autocomplete": "current-password"})
        else:
            field.label = _("Your email address")

    def clean_confirmation(self) -> str:
        value = self.cleaned_data["confirmation"]
        if self.user.has_usable_password():
            ok = self.user.check_password(value)
        else:
            ok = value.strip().lower() == self.user.email.lower()
        if not ok:
            raise forms.ValidationError(_("That does not match; your account was not deleted."))
        return value


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form; its honeypot is hidden with our CSS class, because the
    inline style allauth puts on it is blocked by the site's Content-Security-Policy."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = allauth_settings.SIGNUP_FORM_HONEYPOT_FIELD
        if name and name in self.fields:
            self.fields[name].widget.attrs = {
                "class": "hp",
                "tabindex": "-1",
                "autocomplete": "off",
                "aria-hidden": "true",
            }
