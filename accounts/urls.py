"""URLs of the accounts app."""

from django.urls import path

from accounts.signin import views as auth

app_name = "accounts"
urlpatterns = [
    path("login/", auth.login, name="login"),
    path("login/new-password/", auth.login_new_password, name="login_new_password"),
    path("login/mfa/", auth.login_mfa, name="login_mfa"),
    path("login/mfa-setup/", auth.login_mfa_setup, name="login_mfa_setup"),
    path("password/forgot/", auth.password_forgot, name="password_forgot"),
    path("password/forgot/confirm/", auth.password_forgot_confirm, name="password_forgot_confirm"),
    path("logout/", auth.logout, name="logout"),
    path("account/", auth.account, name="account"),
    path("account/password/", auth.account_password, name="account_password"),
    path("account/mfa/", auth.account_mfa, name="account_mfa"),
    path("account/sign-out-everywhere/", auth.account_sign_out_everywhere, name="account_sign_out_everywhere"),
]
