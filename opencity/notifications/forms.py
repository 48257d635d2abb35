from django import forms
from django.utils.translation import gettext_lazy as _

from opencity.notifications import registry
from opencity.notifications.models import Pace


class SettingsForm(forms.Form):
    """Auto-follow and one pace field per registered kind, named `pace_<kind>`."""

    auto_follow = forms.BooleanField(
        label=_("Follow what I sign, vote for, file or register for"), required=False
    )

    def __init__(self, *args, paces: dict[str, str], auto_follow: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["auto_follow"].initial = auto_follow
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
