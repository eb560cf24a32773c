"""URLs of the accounts app."""

from django.urls import path

from accounts.views import pages

app_name = "accounts"
urlpatterns = [
    path("login/", pages.login, name="login"),
]
