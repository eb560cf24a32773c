"""Staff sign-in, one screen per step, and the account page."""

import base64
import io
from datetime import datetime
from functools import wraps
from http import HTTPStatus

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts import cognito
from accounts.rules import passwords, permissions
from accounts.signin import flows, forms

NEXT = "signin_next"
LOGIN = "accounts/login.html"
NEW_PASSWORD = "accounts/login_new_password.html"
MFA = "accounts/login_mfa.html"
MFA_SETUP = "accounts/login_mfa_setup.html"
FORGOT = "accounts/password_forgot.html"
FORGOT_CONFIRM = "accounts/password_forgot_confirm.html"
NO_TOKENS = "Sign in again with your Cognito account to change your password or two-step sign-in."
SCREENS = {  # the screen of each challenge (flows.login.SCREENS names them), and of a required reset
    "new_password": "accounts:login_new_password",
    "mfa": "accounts:login_mfa",
    "mfa_setup": "accounts:login_mfa_setup",
    "reset_required": "accounts:password_forgot",
}


def sign_in_view(template: str, form_class, context=None):
    """Protect a sign-in view; answer Cognito faults and per-user limits with the form kept and a clear message."""

    def decorate(view):
        @sensitive_post_parameters()
        @never_cache
        @csrf_protect
        @require_http_methods(["GET", "POST"])
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except (cognito.CognitoFault, cognito.TooManyAttempts) as exc:
                messages.error(request, _fault_said(exc))
                extra = context(request) if context else {}
                status = (
                    HTTPStatus.TOO_MANY_REQUESTS
                    if isinstance(exc, cognito.TooManyAttempts)
                    else HTTPStatus.SERVICE_UNAVAILABLE
                )
                return render(request, template, {"form": form_class(request.POST or None), **extra}, status=status)

        return wrapped

    return decorate


def _fault_said(exc: cognito.CognitoError) -> str:
    """Return what a sign-in screen says when Cognito is busy, down, or refuses more attempts for the account."""
    if isinstance(exc, cognito.TooManyAttempts):
        return cognito.TOO_MANY_ATTEMPTS
    return flows.common.BUSY if isinstance(exc, cognito.Throttled) else flows.common.UNAVAILABLE


def _safe_next(request) -> str:
    """Return where to go after signing in: `next` when it stays on this host, else home."""
    target = request.session.get(NEXT) or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _follow(request, step: flows.common.Step, template: str, form, **context):
    """Go where a step leads: the next page, the next challenge, or back to the form with its error."""
    if step.user is not None:
        destination = _safe_next(request)
        request.session.pop(NEXT, None)
        return redirect(destination)
    if step.challenge and step.challenge in SCREENS and not (step.error and step.challenge != "reset_required"):
        if step.error:
            messages.warning(request, step.error)
        return redirect(SCREENS[step.challenge])
    if step.error in flows.common.RESTART:
        messages.error(request, step.error)
        return redirect("accounts:login")
    form.add_error(None, step.error)
    return render(request, template, {"form": form, **context}, status=HTTPStatus.OK)


def _policy_context(request) -> dict:
    """Return the password policy's rules for the page."""
    return {"rules": passwords.policy().rules()}


@sign_in_view(LOGIN, forms.SignInForm)
def login(request):
    """Ask for email and password, then lead to the next step."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    if request.method == "GET" and "next" in request.GET:
        request.session[NEXT] = request.GET["next"]
    form = forms.SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = flows.login.sign_in_start(
            request, username=form.cleaned_data["email"], password=form.cleaned_data["password"]
        )
        return _follow(request, step, LOGIN, form)
    return render(request, LOGIN, {"form": form})


def _pending_or_restart(request, challenge: str):
    """Return the pending sign-in for this challenge, or None after sending the person back to sign in."""
    state = flows.common.pending(request)
    if state is None or state["challenge"] != challenge:
        messages.error(request, flows.common.EXPIRED)
        return None
    return state


@sign_in_view(NEW_PASSWORD, forms.NewPasswordForm, _policy_context)
def login_new_password(request):
    """First sign-in with a temporary password: choose a new one."""
    if _pending_or_restart(request, "NEW_PASSWORD_REQUIRED") is None:
        return redirect("accounts:login")
    form = forms.NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = flows.login.sign_in_new_password(request, new_password=form.cleaned_data["new_password"])
        return _follow(request, step, NEW_PASSWORD, form, **_policy_context(request))
    return render(request, NEW_PASSWORD, {"form": form, **_policy_context(request)})


@sign_in_view(MFA, forms.CodeForm)
def login_mfa(request):
    """Ask for the code from the authenticator app."""
    if _pending_or_restart(request, "SOFTWARE_TOKEN_MFA") is None:
        return redirect("accounts:login")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = flows.login.sign_in_mfa(request, code=form.cleaned_data["code"])
        return _follow(request, step, MFA, form)
    return render(request, MFA, {"form": form})


def qr_data_uri(uri: str) -> str:
    """Return an SVG QR code of `uri` as a data: URI for an <img>."""
    buffer = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@sensitive_variables()
def _enrolment_context(email: str, secret: str) -> dict:
    """Return what an enrolment page shows: the QR code and the secret to type by hand."""
    return {"secret": secret, "qr": qr_data_uri(flows.mfa.otpauth_uri(email, secret))}


@sensitive_variables()
def _setup_context(request) -> dict:
    """Return the pending sign-in's enrolment context."""
    state = flows.common.pending(request) or {}
    return _enrolment_context(state.get("username", ""), state.get("secret", "")) if state.get("secret") else {}


@sign_in_view(MFA_SETUP, forms.CodeForm, _setup_context)
def login_mfa_setup(request):
    """Enrol an authenticator app (required before this sign-in can finish)."""
    state = _pending_or_restart(request, "MFA_SETUP")
    if state is None:
        return redirect("accounts:login")
    flows.mfa.mfa_setup_begin(request)
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        step = flows.mfa.mfa_setup_finish(request, code=form.cleaned_data["code"])
        return _follow(request, step, MFA_SETUP, form, **_setup_context(request))
    return render(request, MFA_SETUP, {"form": form, **_setup_context(request)})


@sign_in_view(FORGOT, forms.ForgotPasswordForm)
@sensitive_variables()
def password_forgot(request):
    """Ask for the email; Cognito sends a code to it."""
    form = forms.ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = cognito.canonical_username(form.cleaned_data["email"])
        code = flows.password.password_forgot_start(request, email=email)
        request.session["reset_email"] = email
        messages.info(request, flows.common.FORGOT_SENT)
        if code:
            messages.warning(request, f"Embedded emulator: the code is {code}")
        return redirect("accounts:password_forgot_confirm")
    return render(request, FORGOT, {"form": form})


@sign_in_view(FORGOT_CONFIRM, forms.ForgotPasswordConfirmForm, _policy_context)
@sensitive_variables()
def password_forgot_confirm(request):
    """Take the emailed code and a new password."""
    initial = {"email": request.session.get("reset_email", "")}
    form = forms.ForgotPasswordConfirmForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        error = flows.password.password_forgot_finish(
            request, email=data["email"], code=data["code"], new_password=data["new_password"]
        )
        if not error:
            request.session.pop("reset_email", None)
            messages.success(request, "Your password was changed. Sign in with it now.")
            return redirect("accounts:login")
        form.add_error(None, error)
    return render(request, FORGOT_CONFIRM, {"form": form, **_policy_context(request)})


@require_POST
@csrf_protect
def logout(request):
    """Sign out: end this session and revoke the refresh tokens."""
    flows.session.sign_out(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


@login_required
@never_cache
@require_http_methods(["GET"])
def account(request):
    """Show the signed-in staff member's account: email, standing, role, MFA."""
    tokens_state = request.session.get(flows.common.TOKENS, {})
    profile = cognito.user_get(request.user.email) if tokens_state else None
    context = {
        "standing": permissions.standing_of(request.user),
        "profile": profile,
        "mfa_on": bool(profile and "SOFTWARE_TOKEN_MFA" in profile.mfa),
        "has_tokens": bool(tokens_state),
        "last_sign_in": request.user.last_login,
        "previous_sign_in": _moment(request.session.get(flows.common.PREVIOUS_SIGN_IN, "")),
    }
    return render(request, "accounts/account.html", context)


def _moment(text: str) -> datetime | None:
    """Return the moment an ISO time stored in the session says, or None."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def cognito_session_required(view):
    """Send a session without Cognito tokens (not opened through the sign-in form) to sign in again."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.session.get(flows.common.TOKENS):
            auth.logout(request)
            messages.error(request, NO_TOKENS)
            return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
        return view(request, *args, **kwargs)

    return wrapped


@login_required
@cognito_session_required
@sensitive_post_parameters()
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def account_password(request):
    """Change one's own password."""
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        error = flows.password.account_password_change(
            request, old_password=form.cleaned_data["old_password"], new_password=form.cleaned_data["new_password"]
        )
        if not error:
            messages.success(request, "Your password was changed.")
            return redirect("accounts:account")
        form.add_error(None, error)
    return render(request, "accounts/account_password.html", {"form": form, **_policy_context(request)})


@login_required
@cognito_session_required
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@sensitive_variables()
def account_mfa(request):
    """Enrol an authenticator app from the account page."""
    secret = flows.mfa.account_mfa_begin(request)
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        error = flows.mfa.account_mfa_finish(request, code=form.cleaned_data["code"])
        if not error:
            messages.success(request, "Two-step sign-in is on. You will be asked for a code at each sign-in.")
            return redirect("accounts:account")
        form.add_error(None, error)
    return render(
        request, "accounts/account_mfa.html", {"form": form, **_enrolment_context(request.user.email, secret)}
    )


@login_required
@require_POST
@csrf_protect
def account_sign_out_everywhere(request):
    """Sign out of every browser and revoke every refresh token."""
    flows.session.sign_out(request, everywhere=True)
    messages.info(request, "You are signed out everywhere.")
    return redirect("accounts:login")
