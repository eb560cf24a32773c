"""The pool's password policy: checked in the portal, so its words reach the user, not Cognito's."""

import secrets
import string
from dataclasses import dataclass

from django.conf import settings

SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-"


@dataclass(frozen=True)
class PasswordPolicy:
    """What a password must contain."""

    min_length: int
    require_upper: bool = True
    require_lower: bool = True
    require_digit: bool = True
    require_symbol: bool = True

    def as_cognito(self) -> dict:
        """Return the policy as CreateUserPool's PasswordPolicy."""
        return {
            "MinimumLength": self.min_length,
            "RequireUppercase": self.require_upper,
            "RequireLowercase": self.require_lower,
            "RequireNumbers": self.require_digit,
            "RequireSymbols": self.require_symbol,
            "TemporaryPasswordValidityDays": settings.COGNITO_TEMPORARY_PASSWORD_DAYS,
        }

    def rules(self) -> list[str]:
        """Return the policy in words, one rule a line."""
        rules = [f"at least {self.min_length} characters"]
        rules += ["an upper-case letter"] if self.require_upper else []
        rules += ["a lower-case letter"] if self.require_lower else []
        rules += ["a digit"] if self.require_digit else []
        rules += ["a symbol such as ! @ # $ %"] if self.require_symbol else []
        return rules

    def problems(self, password: str) -> list[str]:
        """Return the rules the password breaks (empty when it is acceptable)."""
        checks = [
            (len(password) >= self.min_length, f"at least {self.min_length} characters"),
            (not self.require_upper or any(c.isupper() for c in password), "an upper-case letter"),
            (not self.require_lower or any(c.islower() for c in password), "a lower-case letter"),
            (not self.require_digit or any(c.isdigit() for c in password), "a digit"),
            (not self.require_symbol or any(c in SYMBOLS for c in password), "a symbol such as ! @ # $ %"),
            (password == password.strip(), "no leading or trailing space"),
        ]
        return [rule for ok, rule in checks if not ok]


def policy() -> PasswordPolicy:
    """Return the configured password policy."""
    return PasswordPolicy(min_length=settings.COGNITO_PASSWORD_MIN_LENGTH)


def generate(length: int = 20) -> str:
    """Return a random password that satisfies the policy."""
    length = max(length, policy().min_length)
    pools = [string.ascii_uppercase, string.ascii_lowercase, string.digits, "!#%+-=@_"]
    while True:
        candidate = "".join(secrets.choice("".join(pools)) for _ in range(length))
        if not policy().problems(candidate):
            return candidate
