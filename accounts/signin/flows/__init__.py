"""The staff sign-in flows, one module per flow (as django-allauth's account/internal/flows/).

login: email and password, then the challenges; mfa: TOTP enrolment, at sign-in and from the account page;
password: the forgotten password and the own password change; session: following Cognito, and signing out;
common: the Step, the messages, the session keys and the pending sign-in they share.
"""

from accounts.signin.flows import common, login, mfa, password, session

__all__ = ["common", "login", "mfa", "password", "session"]
