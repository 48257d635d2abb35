from django import forms
from django.utils.translation import gettext_lazy as _

from opencity.notifications import registry
from opencity.notifications.models import Pace


def mail_kind_label(kind: str) -> str:
    name = kind.split(":", 1)[1].rsplit("/", 1)[-1].replace("_", " ")
    return _("Notices “%(name)s”") % {"name": name}


class SettingsForm(forms.Form):
    """Auto-follow and one pace field per registered kind, named `pace_<kind>`."""

    auto_follow = forms.BooleanField(
        label=_("Follow what I sign, vote for, file or register for"), required=False
    )

    def __init__(
        self, *args, paces: dict[str, str], auto_follow: bool, stopped: list[str], **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auto_follow"].initial = auto_follow
        if stopped:
            self.fields["resume"] = forms.MultipleChoiceField(
                label=_("E-mails you stopped: tick to receive them again"),
                choices=[(kind, mail_kind_label(kind)) for kind in stopped],
                widget=forms.CheckboxSelectMultiple,
                required=False,
            )
        self.kind_fields: list[tuple[str, str]] = []
        for kind in registry.kinds():
            name = "pace_" + kind.key.replace(".", "__")
            self.fields[name] = forms.ChoiceField(
                label=kind.label, choices=Pace.choices, initial=paces.get(kind.key)
            )
            self.kind_fields.append((name, kind.key))

    def paces(self) -> dict[str, str]:
        return {key: self.cleaned_data[name] for name, key in self.kind_fields}


class DeleteAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my account and personal data will be erased for good"),
        error_messages={"required": _("Tick the box to confirm the deletion.")},
    )
    remove_public_name = forms.BooleanField(
        label=_("Also remove my name from public lists of signatories"), required=False
    )
