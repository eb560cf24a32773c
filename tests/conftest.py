"""Fixtures for every test, from tests/support/: moto, a bootstrapped pool, users, staff and signed-in clients.

A test names the fixtures it needs as arguments; none needs importing.
"""

import pytest

pytest.register_assert_rewrite("tests.support")

from tests.support.pool import STAFF_PASSWORD, USER_PASSWORD  # noqa: E402  (after the rewrite hook)

pytest_plugins = [
    "tests.support.aws",
    "tests.support.pool",
    "tests.support.staff",
    "tests.support.apps",
    "tests.support.database",
    "tests.support.events",
]

__all__ = ["STAFF_PASSWORD", "USER_PASSWORD"]  # many tests import the passwords from here
