"""Old home of the applications' fixtures and helpers, kept for the imports that still name it: use tests.support.apps.

The fixtures need no import at all (tests/conftest.py registers tests/support/ as plugins).
"""

from tests.support.apps import (
    access_config,
    app_sign_in,
    apps_pool,
    csrf,
    example,
    example_browser,
    features,
    sign_in,
    token_after_revocations,
    verifier,
)

__all__ = [
    "access_config",
    "app_sign_in",
    "apps_pool",
    "csrf",
    "example",
    "example_browser",
    "features",
    "sign_in",
    "token_after_revocations",
    "verifier",
]
