"""Run moto's server as the embedded Cognito of `make run`, its state kept in a snapshot file.

- State: after every request that may change it, a thread writes moto's cognito-idp backends to the
  snapshot file (pickled, written aside and renamed, so a crash leaves the previous one whole); once more
  on SIGTERM/SIGINT; the server loads it when it starts. The file is moto's state and nothing more, so it
  is as large as the pool and never grows by itself; users, IDs, groups, passwords, TOTP enrolments and
  issued tokens come back exactly as they were.
- Cognito's rules moto lacks (the tests' moto applies the same ones, through `cognito_rules()`): after
  AdminResetUserPassword, signing in with the old password raises PasswordResetRequiredException, where
  moto would answer NEW_PASSWORD_REQUIRED and let the user choose a password without the emailed code; a
  password set with the emailed code confirms the user again. AdminCreateUser with MessageAction RESEND
  sends the invitation again to the existing user (a new temporary password when given), and refuses a user
  no longer in FORCE_CHANGE_PASSWORD, where moto would create a second user with the same email.
Usage: python scripts/embedded_cognito.py -H 127.0.0.1 -p PORT --state FILE
"""

import argparse
import io
import os
import pickle
import signal
import sys
import threading

from joserfc import jwk
from moto.cognitoidp.exceptions import UserNotFoundError
from moto.cognitoidp.models import CognitoIdpBackend, UserStatus, cognitoidp_backends
from moto.core.exceptions import JsonRESTError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.utilities.utils import load_resource
from werkzeug.serving import run_simple

READS = ("Describe", "List", "Get", "AdminGet", "AdminList")  # operations that change nothing
KEY = "cognito-jwk"  # stands for moto's signing key, which cannot be pickled (every pool has the same one)


# --- Cognito's rules ------------------------------------------------------------------------------------


class PasswordResetRequired(JsonRESTError):
    """Cognito's answer to a sign-in after an administrator reset the password."""

    def __init__(self):
        super().__init__("PasswordResetRequiredException", "Password reset required for the user")


def refuse_reset_sign_in(backend, pool_id: str, parameters: dict) -> None:
    """Raise PasswordResetRequired when the right password is given for a user whose password was reset."""
    if "PASSWORD" not in parameters or pool_id not in backend.user_pools:
        return
    try:
        user = backend.admin_get_user(pool_id, parameters.get("USERNAME", ""))
    except UserNotFoundError:
        return  # moto's own answer follows
    if user.enabled and user.status is UserStatus.RESET_REQUIRED and user.password == parameters["PASSWORD"]:
        raise PasswordResetRequired()


class UnsupportedUserState(JsonRESTError):
    """Cognito's answer to an invitation resent to a user who already signed in."""

    def __init__(self):
        super().__init__("UnsupportedUserStateException", "User account already confirmed.")


def resend_invitation(backend, pool_id: str, username: str, temporary_password: str):
    """Return the existing user, invited again (a new temporary password when given), as Cognito's RESEND does."""
    user = backend.admin_get_user(pool_id, username)
    if user.status is not UserStatus.FORCE_CHANGE_PASSWORD:
        raise UnsupportedUserState()
    if temporary_password:
        user.password = temporary_password
    return user


def cognito_rules() -> dict:
    """Return {CognitoIdpBackend method name: replacement} for the rules in which moto differs from Cognito."""
    admin_auth, user_auth = CognitoIdpBackend.admin_initiate_auth, CognitoIdpBackend.initiate_auth
    confirm_forgot = CognitoIdpBackend.confirm_forgot_password
    create_user = CognitoIdpBackend.admin_create_user

    def admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters):
        refuse_reset_sign_in(self, user_pool_id, auth_parameters or {})
        return admin_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)

    def initiate_auth(self, client_id, auth_flow, auth_parameters):
        pool_id = next((pool.id for pool in self.user_pools.values() if client_id in pool.clients), "")
        refuse_reset_sign_in(self, pool_id, auth_parameters or {})
        return user_auth(self, client_id, auth_flow, auth_parameters)

    def confirm_forgot_password(self, client_id, username, password, confirmation_code):
        confirm_forgot(self, client_id, username, password, confirmation_code)
        for pool in self.user_pools.values():
            user = pool._get_user(username) if client_id in pool.clients else None
            if user is not None and user.status is UserStatus.RESET_REQUIRED:
                user.status = UserStatus.CONFIRMED  # as Cognito: the emailed code ends the reset

    def admin_create_user(self, user_pool_id, username, message_action, temporary_password, attributes):
        if message_action == "RESEND":
            return resend_invitation(self, user_pool_id, username, temporary_password)
        return create_user(self, user_pool_id, username, message_action, temporary_password, attributes)

    return {
        "admin_create_user": admin_create_user,
        "admin_initiate_auth": admin_initiate_auth,
        "initiate_auth": initiate_auth,
        "confirm_forgot_password": confirm_forgot_password,
    }


# --- The snapshot -------------------------------------------------------------------------------------


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return KEY if isinstance(obj, jwk.RSAKey) else None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        if pid != KEY:
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))


def state_dump() -> bytes:
    """Return moto's cognito-idp state, every account and region, as bytes."""
    state = {
        (account, region): vars(backend)
        for account, backends in cognitoidp_backends.items()
        for region, backend in backends.items()
    }
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return out.getvalue()


def state_load(data: bytes) -> int:
    """Replace moto's cognito-idp state with a dumped one; return the number of user pools."""
    state = _Unpickler(io.BytesIO(data)).load()
    for (account, region), values in state.items():
        vars(cognitoidp_backends[account][region]).update(values)
    return sum(len(values["user_pools"]) for values in state.values())


class Snapshots:
    """Write the state to `path` whenever it changed; requests and snapshots take turns on one lock."""

    def __init__(self, path: str):
        self.path, self.lock, self.writing = path, threading.RLock(), threading.Lock()
        self.changed = threading.Event()

    def load(self) -> None:
        """Restore the last snapshot, if there is one."""
        if os.path.exists(self.path):
            with open(self.path, "rb") as file:
                pools = state_load(file.read())
            print(f"embedded Cognito: restored {pools} user pool(s) from {self.path}", file=sys.stderr)

    def save(self) -> None:
        """Write the current state aside, then put it in place of the last snapshot."""
        with self.writing:
            self.changed.clear()
            with self.lock:
                data = state_dump()
            with open(f"{self.path}.new", "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(f"{self.path}.new", self.path)

    def run(self) -> None:
        """Save after each change, forever (a daemon thread)."""
        while True:
            self.changed.wait()
            self.save()

    def app(self, wsgi):
        """Wrap a WSGI app: one request at a time, and a snapshot after any that may change the state."""

        def wrapped(environ, start_response):
            operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
            with self.lock:
                body = list(wsgi(environ, start_response))
            if environ.get("REQUEST_METHOD") != "GET" and not operation.startswith(READS):
                self.changed.set()
            return body

        return wrapped


def main(argv: list[str]) -> None:
    """Serve the emulator on HOST:PORT, restoring and keeping its state in the snapshot file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--state", required=True, help="the snapshot file")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for name, replacement in cognito_rules().items():
        setattr(CognitoIdpBackend, name, replacement)
    snapshots = Snapshots(args.state)
    try:
        snapshots.load()
    except Exception as exc:  # a file from another moto version, or damaged
        sys.exit(
            f"embedded Cognito: cannot read {args.state} ({exc.__class__.__name__}: {exc}); "
            "move it away to start afresh."
        )

    def stop(_number, _frame):
        snapshots.save()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=snapshots.run, daemon=True).start()
    run_simple(
        args.host,
        args.port,
        snapshots.app(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
