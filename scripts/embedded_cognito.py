"""Run moto's server (`moto_server`) as the embedded Cognito of `make run`, fit for replaying its recording.

Three adjustments to moto's recorder, nothing else. While the recording is replayed:
- TOTP codes are not checked: every recorded code has expired by then, and a refused code would leave
  that user unenrolled and shift every identifier generated after it;
- an access token in a replayed request is accepted when a token with the same `jti` was issued during
  the replay: tokens carry the time they were issued, so the replayed ones differ from the recorded ones,
  and requests made with them (TOTP enrolment, password change, sign-out) would fail;
- a replay that fails switches recording back on (moto leaves it off), and a last line cut short by a
  crash is dropped before the server starts.
Usage: python scripts/embedded_cognito.py -H 127.0.0.1 -p PORT  (same options as moto_server).
"""

import base64
import json
import os
import sys

import requests
from moto.cognitoidp.models import cognitoidp_backends
from moto.moto_api._internal.recorder import models as recorder_models
from moto.moto_api._internal.recorder.models import Recorder
from moto.server import main

TOTP_SWITCH = "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"
_replay = Recorder.replay_recording


def token_id(token: str) -> str:
    """Return a JWT's `jti` claim, read without verification ('' when it is not a JWT)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("jti", "")
    except (IndexError, ValueError, AttributeError):
        return ""


def accept_recorded_token(body) -> None:
    """Let the recorded access token in `body` stand for the replayed token with the same jti."""
    try:
        token = json.loads(body or "{}").get("AccessToken", "")
    except (ValueError, AttributeError):
        return
    wanted = token_id(token)
    if not wanted:
        return
    for backends in cognitoidp_backends.values():
        for backend in backends.values():
            for pool in backend.user_pools.values():
                if token in pool.access_tokens:
                    return
                for issued, owner in list(pool.access_tokens.items()):
                    if token_id(issued) == wanted:
                        pool.access_tokens[token] = owner
                        return


class _ReplayRequests:
    """Stand-in for `requests` in moto's recorder: adjusts each replayed request before sending it."""

    @staticmethod
    def request(method, url, headers=None, data=None, **kwargs):
        accept_recorded_token(data)
        return requests.request(method=method, url=url, headers=headers, data=data, **kwargs)


def replay_recording(self, target_host=None):
    """Replay the recording with TOTP checks off and recorded tokens accepted; keep recording after."""
    enabled, totp = self._user_enabled, os.environ.get(TOTP_SWITCH)
    os.environ[TOTP_SWITCH] = "false"
    recorder_models.requests = _ReplayRequests
    try:
        _replay(self, target_host=target_host)
    finally:
        recorder_models.requests = requests
        self._user_enabled = enabled
        if totp is None:
            del os.environ[TOTP_SWITCH]
        else:
            os.environ[TOTP_SWITCH] = totp


def drop_torn_last_line(path: str) -> None:
    """Remove a last line that is not complete JSON (the server was killed while writing it)."""
    if not os.path.exists(path):
        return
    with open(path, "rb") as file:
        lines = file.read().splitlines(keepends=True)
    if not lines:
        return
    try:
        json.loads(lines[-1])
    except ValueError:
        print(f"embedded Cognito: dropping a torn last line from {path}", file=sys.stderr)
        with open(path, "wb") as file:
            file.writelines(lines[:-1])


if __name__ == "__main__":
    Recorder.replay_recording = replay_recording
    drop_torn_last_line(os.environ.get("MOTO_RECORDER_FILEPATH", "moto_recording"))
    sys.exit(main())
