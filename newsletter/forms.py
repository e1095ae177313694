"""Subscribe and preferences forms. Validation lives on the model fields; these add the
honeypot and limit the channels to those the site has configured."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from articles.models import Topic

from .models import Subscriber, timezone_names


class SubscribeForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.all(),
        required=False,
        to_field_name="slug",
        widget=forms.CheckboxSelectMultiple,
        label=_("Only these topics (optional)"),
    )
    # Honeypot: hidden from people by CSS and aria-hidden; bots that fill every field fill it.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class PreferencesForm(forms.ModelForm):
    """A subscriber's own settings. Saving writes only these columns (and the topics), never
    the status: the row was read when the page loaded, and a one-click unsubscribe or a
    pause that landed since must not be undone by the form's stale copy."""

    timezone = forms.ChoiceField(label=_("Timezone"))

    class Meta:
        model = Subscriber
        fields = ["channel", "slack_webhook_url", "line_user_id", "topics", "send_hour", "timezone"]
        widgets = {"topics": forms.CheckboxSelectMultiple}
        labels = {"send_hour": _("Send at (hour, 0–23, your time)")}

    # The form's own columns; topics is many-to-many and saved by save_m2m().
    COLUMNS = ["channel", "slack_webhook_url", "line_user_id", "send_hour", "timezone"]

    def save(self, commit: bool = True) -> Subscriber:
        subscriber = super().save(commit=False)
        if commit:
            subscriber.save(update_fields=self.COLUMNS)
            self.save_m2m()
        return subscriber

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [(name, name) for name in sorted(timezone_names())]
        self.fields["send_hour"].widget.attrs.update(min=0, max=23)
        if not settings.LINE_CHANNEL_ACCESS_TOKEN:
            # Offer LINE only when the site has a Messaging API channel to push from.
            self.fields["channel"].choices = [
                c for c in self.fields["channel"].choices if c[0] != Subscriber.Channel.LINE
            ]
