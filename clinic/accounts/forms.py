from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model, password_validation

from clinic.models import Site
from clinic.roles import Role, roles_of
from clinic.ui import StyledFormMixin

User = get_user_model()


class SecondFactorForm(StyledFormMixin, forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="Six digits from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}
        ),
    )


class ApiTokenForm(StyledFormMixin, forms.Form):
    days = forms.TypedChoiceField(label="Valid for", coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = sorted({d for d in (1, 7, 30, 90, 365) if d <= settings.API_TOKEN_MAX_DAYS})
        self.fields["days"].choices = [(d, f"{d} day{'s' if d > 1 else ''}") for d in days]
        self.fields["days"].initial = min(settings.API_TOKEN_DAYS, days[-1])


class StaffForm(StyledFormMixin, forms.ModelForm):
    """A staff account with its title and roles; roles come only from the role list."""

    title = forms.CharField(max_length=80, required=False)
    roles = forms.MultipleChoiceField(
        choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    sites = forms.ModelMultipleChoiceField(
        queryset=Site.objects.filter(active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The sites whose records this person sees. None ticked: every site.",
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_active"]

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if self.instance.pk:
            self.fields["roles"].initial = sorted(roles_of(self.instance))
            profile = getattr(self.instance, "staff_profile", None)
            self.fields["title"].initial = profile.title if profile else ""
            self.fields["sites"].initial = list(profile.sites.all()) if profile else []
            self.fields[
                "is_active"
            ].help_text = "Untick to stop this login; its API tokens and calendar feed end at once."

    def clean(self):
        data = super().clean()
        if self.instance.pk and self.instance.pk == self.actor.pk:
            if not data.get("is_active", True):
                self.add_error("is_active", "You cannot deactivate your own account.")
            if Role.ADMIN in roles_of(self.actor) and Role.ADMIN not in data.get("roles", []):
                self.add_error("roles", "You cannot take the Admin role from yourself.")
        return data


class StaffCreateForm(StaffForm):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        password = data.get("password1")
        if password and password != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif password:
            try:
                candidate = User(
                    **{f: data.get(f, "") for f in ("username", "first_name", "last_name", "email")}
                )
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class StaffPasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, which never mails a superuser: a break-glass account is
    recovered on the server (`manage.py changepassword`), not by whoever reads its inbox."""

    def get_users(self, email):
        return (user for user in super().get_users(email) if not user.is_superuser)
