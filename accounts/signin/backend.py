"""The Django authentication backend: staff sign in with their own Cognito credentials.

No password is stored locally: the local user is a shadow keyed on the Cognito `sub`.
Challenges (new password, MFA) belong to accounts.signin.flows.login; the backend only turns a
finished sign-in into a user, or None with the reason in `return_data`.
"""

from django.contrib.auth.backends import ModelBackend
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.models import User
from accounts.rules import permissions, roles
from accounts.signin import tokens

# Reasons a sign-in produced no user, for return_data["reason"].
BAD_CREDENTIALS, CHALLENGE, NOT_STAFF, RESET_REQUIRED, INVALID_TOKEN = (
    "bad_credentials",
    "challenge",
    "not_staff",
    "reset_required",
    "invalid_token",
)


class CognitoBackend(ModelBackend):
    """Authenticate against the Cognito pool; read users and permissions only from the local database."""

    @sensitive_variables()
    def authenticate(self, request, username=None, password=None, cognito_tokens=None, return_data=None, **kwargs):
        """Return the staff user for a password or a finished challenge, else None (never raises for bad input)."""
        return_data = {} if return_data is None else return_data
        if cognito_tokens is None:
            if not username or not password:
                return None
            cognito_tokens = self._password_step(username, password, return_data)
            if cognito_tokens is None:
                return None
        return_data["result"] = cognito_tokens
        return self.user_for_tokens(cognito_tokens, return_data)

    @staticmethod
    @sensitive_variables()
    def _password_step(username: str, password: str, return_data: dict) -> cognito.AuthResult | None:
        """Sign in with the password; a challenge or a refusal goes to return_data."""
        try:
            result = cognito.auth_password(username, password)
        except (cognito.NotAuthorized, cognito.UserNotFound, cognito.UserNotConfirmed, cognito.InvalidParameter):
            return_data["reason"] = BAD_CREDENTIALS
            return None
        except cognito.PasswordResetRequired:
            return_data["reason"] = RESET_REQUIRED
            return None
        if not result.signed_in:
            return_data.update(reason=CHALLENGE, challenge=result)
            return None
        return result

    @staticmethod
    @sensitive_variables()
    def user_for_tokens(result: cognito.AuthResult, return_data: dict) -> User | None:
        """Verify the ID token and return the refreshed local shadow of a staff member, else None."""
        try:
            claims = tokens.verify_id_token(result.id_token)
        except tokens.TokenError:
            return_data["reason"] = INVALID_TOKEN
            return None
        standing = permissions.standing_for_groups(claims.groups)
        if not standing:
            return_data["reason"] = NOT_STAFF
            return None
        return_data["claims"] = claims
        return shadow_user(claims, standing)

    def get_user(self, user_id):
        """Return the active local user; Django calls this on every request, so no Cognito call."""
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


def shadow_user(claims: tokens.Claims, standing: str) -> User:
    """Create or refresh the local user for these claims, with the standing's Django group."""
    user, created = User.objects.get_or_create(cognito_sub=claims.sub, defaults={"username": claims.sub})
    user.email = claims.email
    user.first_name = (claims.raw.get("name") or "")[:150]
    user.is_staff, user.is_superuser, user.is_active = True, False, True
    user.staff_checked_at = timezone.now()  # the token's groups were just read: a live standing
    if created:
        user.set_unusable_password()
    user.save()
    permissions.apply_standing(user, standing, roles.owned_in(claims.groups))
    return user
