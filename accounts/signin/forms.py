"""Forms of the sign-in flow and the account page: the pool's password policy is checked here."""

from django import forms
from django.core.validators import RegexValidator

from accounts.rules import passwords

CODE_ERROR = "Enter the 6-digit code."
MISMATCH_ERROR = "The two passwords are not the same."


class SignInForm(forms.Form):
    """Email and password."""

    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"})
    )
    password = forms.CharField(
        max_length=256, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class NewPasswordMixin(forms.Form):
    """A new password typed twice, checked against the pool's policy."""

    new_password = forms.CharField(
        max_length=256,
        strip=False,
        label="New password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    confirm_password = forms.CharField(
        max_length=256,
        strip=False,
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_new_password(self):
        """Refuse a password that breaks the policy, naming the rules it breaks."""
        password = self.cleaned_data["new_password"]
        problems = passwords.policy().problems(password)
        if problems:
            raise forms.ValidationError("The password needs " + ", ".join(problems) + ".")
        return password

    def clean(self):
        """Refuse two different passwords."""
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", MISMATCH_ERROR)
        return data


class NewPasswordForm(NewPasswordMixin):
    """The first sign-in's new password."""


class CodeForm(forms.Form):
    """A 6-digit code from an authenticator app or an email."""

    code = forms.CharField(
        max_length=6,
        min_length=6,
        validators=[RegexValidator(r"^\d{6}$", CODE_ERROR)],
        error_messages={"min_length": CODE_ERROR, "max_length": CODE_ERROR},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )


class ForgotPasswordForm(forms.Form):
    """The email of the account to reset."""

    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autofocus": True}))


class ForgotPasswordConfirmForm(NewPasswordMixin, CodeForm):
    """The emailed code and a new password."""

    email = forms.EmailField(max_length=254)
    field_order = ["email", "code", "new_password", "confirm_password"]


class PasswordChangeForm(NewPasswordMixin):
    """The current password and a new one."""

    old_password = forms.CharField(
        max_length=256,
        strip=False,
        label="Current password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["old_password", "new_password", "confirm_password"]
