"""The portal's WSGI application with the recording of last uses switched off, or made to write on every check.

The access bench loads these next to the portal itself, so the cost of recording a use shows as a ratio:
`off` skips the recording entirely; `always` forgets the in-process guard and the minute (every check writes
its row), the worst case of many users each checking once a minute.
"""

import os

from portal.wsgi import application  # sets Django up: the portal's modules are imported after it


def _switch(variant: str) -> None:
    """Switch the recording of last uses off, or make it write on every check."""
    from accounts.applications import usage

    if variant == "off":
        usage.use_record = lambda **kwargs: False
    elif variant == "always":
        usage.USE_SECONDS = 0


_switch(os.environ.get("BENCH_USE_RECORDING", ""))
__all__ = ["application"]
