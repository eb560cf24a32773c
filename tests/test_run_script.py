"""scripts/run (`make run`): serves the portal, stops everything on Ctrl-C, keeps the embedded pool."""

import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from accounts import cognito
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "Smoke-Admin-Pass-1!"
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status(url: str) -> int:
    """Return the HTTP status of GET url, 0 when nothing answers."""
    try:
        with LOOPBACK.open(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def sign_in(base_url: str, email: str, password: str) -> tuple[int, str]:
    """Sign in through the portal's form like a browser; return the answer's status and where it redirects."""
    jar = http.cookiejar.CookieJar()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    browser = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar), NoRedirect
    )
    page = browser.open(f"{base_url}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": email, "password": password}).encode()
    request = urllib.request.Request(f"{base_url}/accounts/login/", data=form, headers={"Referer": base_url + "/"})
    try:
        with browser.open(request, timeout=30) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


class Run:
    """One `scripts/run` in its own process group, with its output in a file."""

    def __init__(self, state: Path, env: dict[str, str]):
        self.env, self.log = env, state / f"run-{time.monotonic_ns()}.log"
        self.url = f"http://127.0.0.1:{env['PORTAL_PORT']}"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                ["scripts/run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        """Return everything the script printed so far."""
        return self.log.read_text()

    def wait_until_served(self, timeout: float = 60) -> None:
        """Wait for the script's 'up' message and /healthz 200, failing with its output otherwise."""
        deadline = time.monotonic() + timeout
        while "The portal is up" not in self.output() or status(f"{self.url}/healthz") != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"scripts/run did not serve the portal:\n{self.output()}")
            time.sleep(0.2)

    def interrupt(self) -> int:
        """Send Ctrl-C to the process group, as a terminal does; return the script's exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=30)

    def terminate(self) -> int:
        """Send SIGTERM to the script alone, as a supervisor does; return its exit status."""
        self.process.terminate()
        return self.process.wait(timeout=30)

    def parts(self) -> dict[str, int]:
        """Return {what: pid} for the embedded Cognito, the first task worker and gunicorn's master."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, fields = int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError):
                continue
            if int(fields[2]) != self.process.pid:  # the process group
                continue
            for what, marker in (("cognito", "embedded_cognito.py"), ("worker", "db_worker"), ("web", "gunicorn")):
                if marker in command and (what != "web" or int(fields[1]) == self.process.pid):
                    found.setdefault(what, pid)
        return found

    def wait_for_health(self, wanted: int, timeout: float = 60) -> None:
        """Wait until /healthz answers `wanted`, failing with the script's output otherwise."""
        deadline = time.monotonic() + timeout
        while status(f"{self.url}/healthz") != wanted:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"/healthz never answered {wanted}:\n{self.output()}")
            time.sleep(0.1)

    def group_alive(self) -> bool:
        """Return True while any process of the script's group still exists."""
        try:
            os.killpg(self.process.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self) -> None:
        """Make sure nothing of this run survives the test."""
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def run_env(tmp_path):
    """An environment for scripts/run with its own state dir and free ports, free of the caller's settings."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "COGNITO_", "PORTAL_", "AWS_", "MOTO_", "DATABASE_"))
    }
    return {
        **inherited,
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "PORTAL_ENV_FILE": str(tmp_path / "none.env"),
        "MOTO_PORT": str(free_port()),
        "PORTAL_PORT": str(free_port()),
        "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }


@pytest.fixture
def start_run(tmp_path, run_env):
    """Start scripts/run; every run is killed at the end of the test if it is still alive."""
    runs: list[Run] = []

    def start() -> Run:
        runs.append(Run(tmp_path, run_env))
        return runs[-1]

    yield start
    for run in runs:
        run.stop()


def embedded_ids(run_env) -> dict[str, str]:
    """Return the IDs the script wrote to var/embedded.env."""
    text = (Path(run_env["PORTAL_VAR_DIR"]) / "embedded.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


@pytest.fixture
def embedded_gateway(settings, run_env):
    """Point the gateway at the script's embedded Cognito; returns a context manager for its pool."""
    settings.COGNITO_ENDPOINT_URL = f"http://127.0.0.1:{run_env['MOTO_PORT']}"
    cognito.reset_client()

    def target():
        ids = embedded_ids(run_env)
        return cognito.target(
            ids["COGNITO_USER_POOL_ID"], ids["COGNITO_APP_CLIENT_ID"], ids["COGNITO_APP_CLIENT_SECRET"]
        )

    return target


def directory_emails(run_env) -> set[str]:
    """Return the emails in the run's directory index."""
    database = sqlite3.connect(Path(run_env["PORTAL_VAR_DIR"]) / "db.sqlite3")
    try:
        return {email for (email,) in database.execute("SELECT email FROM accounts_directoryentry")}
    finally:
        database.close()


def test_run_serves_make_manage_reaches_it_restarts_the_parts_that_die_stops_cleanly_and_keeps_the_pool(
    start_run, run_env, embedded_gateway, tmp_path
):
    first = start_run()
    first.wait_until_served()
    assert status(f"{first.url}/accounts/login/") == 200
    assert f"The portal is up:  {first.url}/" in first.output()
    assert f"admin@example.com / {ADMIN_PASSWORD}" in first.output()
    assert "Background work:   1 worker(s)" in first.output()
    assert 'make manage ARGS="cognito_check"' in first.output()
    assert_manage_reaches_the_run(run_env, tmp_path)
    worker_log = Path(run_env["PORTAL_VAR_DIR"]) / "worker.log"
    deadline = time.monotonic() + 30
    while "Starting worker" not in (worker_log.read_text() if worker_log.exists() else ""):
        assert time.monotonic() < deadline, "the background worker did not start"
        time.sleep(0.2)
    pool_id = embedded_ids(run_env)["COGNITO_USER_POOL_ID"]
    with embedded_gateway():
        made = cognito.user_create(
            "kept@example.com", {"name": "Kept"}, temporary_password="Kept-Pass-word-1!", send_invitation=False
        )
        cognito.user_add_to_group("kept@example.com", "app-crm")

    assert first.interrupt() == 130
    assert not first.group_alive(), "scripts/run left processes behind"
    assert status(f"{first.url}/healthz") == 0
    assert not (Path(run_env["PORTAL_VAR_DIR"]) / "run.env").exists()
    assert_manage_refused(run_env)

    second = start_run()
    second.wait_until_served()
    assert "restoring its state" in second.output()
    assert embedded_ids(run_env)["COGNITO_USER_POOL_ID"] == pool_id
    with embedded_gateway():
        assert cognito.user_get("kept@example.com").sub == made.sub
        assert cognito.user_groups("kept@example.com") == ["app-crm"]
        assert cognito.auth_password("admin@example.com", ADMIN_PASSWORD).signed_in
        assert [pid for pid, _ in cognito.pools_list()] == [pool_id]
    assert sign_in(second.url, "Admin@Example.com", ADMIN_PASSWORD) == (302, "/")
    assert "kept@example.com" in directory_emails(run_env), "make run did not read the pool into the directory"

    parts = second.parts()
    os.kill(parts["cognito"], signal.SIGKILL)
    os.kill(parts["worker"], signal.SIGKILL)
    second.wait_for_health(503)  # the portal still answers, without Cognito
    second.wait_for_health(200)
    assert "the embedded Cognito stopped (killed by signal 9); starting it again" in second.output()
    assert "task worker 1 stopped (killed by signal 9); starting it again" in second.output()
    assert second.parts()["worker"] != parts["worker"]
    with embedded_gateway():
        assert cognito.user_groups(made.sub) == ["app-crm"]
    os.kill(parts["web"], signal.SIGTERM)
    deadline = time.monotonic() + 60
    while "the web server (gunicorn) started again." not in second.output():
        assert time.monotonic() < deadline, f"gunicorn was not started again:\n{second.output()}"
        time.sleep(0.2)
    second.wait_for_health(200)
    assert second.terminate() == 143  # the script alone: it must stop what it started itself
    assert not second.group_alive(), "scripts/run left processes behind"


REAL_POOL = {
    "COGNITO_USER_POOL_ID": "us-east-1_unreachable",
    "COGNITO_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


def test_run_refuses_to_serve_when_the_configured_pool_is_unreachable(start_run, run_env):
    run_env.update(REAL_POOL, DJANGO_SECRET_KEY="a-secret-of-this-test-" * 3, DJANGO_ALLOWED_HOSTS="portal.example.com")
    run = start_run()
    assert run.process.wait(timeout=60) == 1
    assert "with the production settings (portal.settings.production)" in run.output()
    assert "the portal cannot use Cognito, so it is not served" in run.output()  # /healthz is not sent to HTTPS
    assert '"cognito": "unreachable"' in run.output()
    assert "embedded Cognito" not in run.output()  # a configured pool means no emulator
    assert not run.group_alive(), "scripts/run left processes behind"


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_run_with_a_real_pool_needs_the_production_secrets(start_run, run_env, missing):
    given = {"DJANGO_SECRET_KEY": "a-secret-of-this-test-" * 3, "DJANGO_ALLOWED_HOSTS": "portal.example.com"}
    run_env.update(REAL_POOL, **{name: value for name, value in given.items() if name != missing})
    run = start_run()
    assert run.process.wait(timeout=60) == 1
    assert f"a real pool is served with the production settings: set {missing}" in run.output()
    assert "the portal cannot use Cognito" not in run.output()  # refused before anything started
    assert not run.group_alive(), "scripts/run left processes behind"


def manage(run_env, *args: str) -> subprocess.CompletedProcess:
    """Run scripts/manage (what `make manage ARGS=...` runs) with the run's environment: no pool settings in it."""
    return subprocess.run(["scripts/manage", *args], cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120)


def assert_manage_reaches_the_run(run_env, folder: Path) -> None:
    """Check that cognito_check, cognito_sync and import_users reach the running stack through scripts/manage."""
    pool = embedded_ids(run_env)["COGNITO_USER_POOL_ID"]
    checked = manage(run_env, "cognito_check")
    assert checked.returncode in (0, 1), checked.stderr  # 1: findings in the demo pool, still reached
    assert f"pool {pool}: " in checked.stdout and "COGNITO_USER_POOL_ID is not set" not in checked.stderr
    synced = manage(run_env, "cognito_sync")
    assert synced.returncode == 0 and "users=" in synced.stdout, synced.stderr
    upload = folder / "people.csv"
    upload.write_text("email,name,role,level,applications\nnew.person@example.com,New Person,a,1,billing\n")
    previewed = manage(run_env, "import_users", str(upload))  # as the run's administrator
    assert previewed.returncode == 0, previewed.stderr
    assert "1 create" in previewed.stdout and "Dry run: nothing was applied" in previewed.stdout


def assert_manage_refused(run_env) -> None:
    """Check that scripts/manage says there is no run to reach, and runs nothing."""
    refused = manage(run_env, "cognito_check")
    assert refused.returncode == 1 and "no 'make run' is serving the embedded Cognito" in refused.stderr


def test_make_manage_without_a_running_make_run_says_to_start_one(run_env):
    assert_manage_refused(run_env)
