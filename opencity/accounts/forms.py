from django import forms
from django.utils.translation import gettext_lazy as _

from opencity.accounts.models import User
from opencity.cities.models import City
from opencity.forms import clean_plain_text


class SignupForm(forms.Form):
    """Extra sign-up fields (allauth adds e-mail and passwords)."""

    full_name = forms.CharField(
        label=_("Full name"),
        max_length=150,
        help_text=_("As in your documents. Shown publicly when you sign a petition."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )

    def clean_full_name(self):
        name = clean_plain_text(self.cleaned_data["full_name"])
        if len(name.split()) < 2:
            raise forms.ValidationError(_("Please give your first name and surname."))
        return name

    def signup(self, request, user):
        """Nothing left to do: AccountAdapter.save_user stored the name before saving."""


class ProfileForm(forms.ModelForm):
    home_city = forms.ModelChoiceField(
        queryset=City.objects.order_by("name_uk"),
        required=False,
        label=_("Home city"),
        help_text=_("Some votes are open only to residents."),
    )

    class Meta:
        model = User
        fields = ["full_name", "preferred_language", "home_city", "date_of_birth"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def clean_full_name(self):
        return clean_plain_text(self.cleaned_data["full_name"])


class IdentityLinkForm(forms.Form):
    """Confirms that the person logging in through the identity provider owns the existing
    account with the same e-mail: its password, unless they are signed in to it already."""

    password = forms.CharField(
        label=_("Password of your account on this portal"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, needs_password: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not needs_password:
            del self.fields["password"]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                _("The password is not right. Nothing was linked; you can try again.")
            )
        return password
