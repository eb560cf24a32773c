"""Make the in-process emulator page through a large pool in linear time, for benchmarks only.

moto finds the start of each page by scanning the whole result list for the pagination token's anchor, and
ListUsersInGroup filters the whole pool on every call, so listing 100,000 users costs O(n^2) in the
emulator: about four minutes of a five-minute sync is moto paging, not the portal. fast_listing() caches the
anchor positions and the group members for as long as the pool does not change, so a page costs O(page).
It changes how long the emulator takes, never which calls the portal makes nor what they return.
"""

from contextlib import contextmanager

from moto.cognitoidp import models as cognito_models
from moto.utilities.paginator import Paginator, paginate

_positions: dict[tuple, dict[str, int]] = {}
_members: dict[tuple, list] = {}


def _signature(results: list) -> tuple:
    """Identify a result list by its length and its end objects (stable while the pool is unchanged)."""
    return (len(results), id(results[0]), id(results[-1])) if results else (0,)


def _fast_paginate(self: Paginator, results: list):
    """Return the page after the token's anchor, finding the anchor through a cached position map."""
    start = 0
    if self._starting_token:
        if self._parsed_token is None:
            return Paginator.__dict__["_original_paginate"](self, results)
        key = (self._param_checksum, tuple(self._unique_attributes), _signature(results))
        if key not in _positions:
            _positions[key] = {
                "|".join(str(self._get_unique_value(item, attr)) for attr in self._unique_attributes): index
                for index, item in enumerate(results)
            }
        start = _positions[key].get(self._parsed_token["uniqueAttributes"])
        if start is None:
            return Paginator.__dict__["_original_paginate"](self, results)  # moto's own error or empty page
    end = min(start + self._max_results, len(results))
    page = results[start:end]
    token = self._build_next_token(results[end]) if page and end < len(results) else None
    return page, token


def list_users_in_group(self, user_pool_id: str, group_name: str):
    """Return the group's members in pool order, computed once while the pool and the group are unchanged."""
    pool = self.describe_user_pool(user_pool_id)
    group = self.get_group(user_pool_id, group_name)
    key = (user_pool_id, group_name, len(pool.users), len(group.users))
    if key not in _members:
        members = group.users
        _members[key] = [user for user in pool.users.values() if user in members]
    return _members[key]


@contextmanager
def fast_listing():
    """Page through the emulator's pool in O(page) while the block runs."""
    backend = cognito_models.CognitoIdpBackend
    original_group = backend.list_users_in_group
    Paginator._original_paginate = Paginator.paginate
    Paginator.paginate = _fast_paginate
    backend.list_users_in_group = paginate(pagination_model=cognito_models.PAGINATION_MODEL)(list_users_in_group)
    try:
        yield
    finally:
        Paginator.paginate = Paginator.__dict__["_original_paginate"]
        del Paginator._original_paginate
        backend.list_users_in_group = original_group
        _positions.clear()
        _members.clear()
