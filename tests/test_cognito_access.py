"""cognito_access, the applications' module: the portal's token rules, the group, the one role, WSGI and Django."""

import dataclasses
import json
import subprocess
import sys
import threading
import tomllib
import zipfile
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.test import RequestFactory

from accounts import cognito
from accounts.rules import roles
from accounts.signin import tokens
from cognito_access import Forbidden, KeysUnavailable, TokenError, Verifier
from cognito_access import tokens as core
from cognito_access.decorators import require_application
from cognito_access.wsgi import ENVIRON_KEY, AccessMiddleware
from tests import tokens_helpers as forge

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tina(make_cognito_user, app_sign_in):
    """Tokens of a B2 user of billing and crm, signed in through the applications' client."""
    make_cognito_user("tina@example.com", role=("b", 2), apps=["billing", "crm"])
    return app_sign_in("tina@example.com")


def test_the_portal_and_the_module_share_one_implementation():
    assert tokens.Claims is core.Claims and tokens.TokenError is core.TokenError
    assert issubclass(tokens.KeySet, core.KeySet)
    assert roles.held_roles({"custom:role_a": "2"}) == [roles.Role("a", 2)]


def test_id_token_gives_application_role_and_level(verifier, tina):
    access = verifier.check(tina["IdToken"], "billing")
    assert (access.role, access.level) == ("b", 2)
    assert access.applications == ("billing", "crm")
    assert access.email == "tina@example.com" and access.has_role("b", 2) and not access.has_role("b", 3)


def test_access_token_gives_application_but_no_role(verifier, tina):
    access = verifier.check(tina["AccessToken"], "crm")
    assert access.claims.token_use == "access"
    assert access.applications == ("billing", "crm") and access.role is None


def test_user_without_the_group_is_forbidden(verifier, tina):
    with pytest.raises(Forbidden, match="no access to hr"):
        verifier.check(tina["IdToken"], "hr")


def test_several_roles_count_as_no_role(verifier, make_cognito_user, app_sign_in):
    make_cognito_user("drift@example.com", role=("a", 1), apps=["billing"])
    cognito.user_update_attributes("drift@example.com", {"custom:role_c": "3"})
    access = verifier.check(app_sign_in("drift@example.com")["IdToken"], "billing")
    assert access.role is None and access.roles_held == (("a", 1), ("c", 3))
    with pytest.raises(Forbidden, match="role does not allow"):
        verifier.check(app_sign_in("drift@example.com")["IdToken"], "billing", roles=["a"])


@pytest.mark.parametrize(
    "allowed, min_level, passes", [(["b"], 1, True), (["b"], 2, True), (["b"], 3, False), (["a", "c"], 1, False)]
)
def test_required_roles_and_levels(verifier, tina, allowed, min_level, passes):
    if passes:
        assert verifier.check(tina["IdToken"], "billing", roles=allowed, min_level=min_level).role == "b"
    else:
        with pytest.raises(Forbidden):
            verifier.check(tina["IdToken"], "billing", roles=allowed, min_level=min_level)


def test_portal_client_tokens_are_refused_by_an_application(verifier, make_cognito_user):
    make_cognito_user("pat@example.com", apps=["billing"])
    portal_tokens = cognito.auth_password("pat@example.com", "User-Password-1!")
    with pytest.raises(TokenError, match="not valid"):
        verifier.check(portal_tokens.id_token, "billing")
    with pytest.raises(TokenError, match="another client"):
        verifier.check(portal_tokens.access_token, "billing")


def test_a_billing_token_is_refused_by_crm(access_config, apps_pool, tina):
    crm = Verifier(dataclasses.replace(access_config, client_ids=(apps_pool.application_clients["crm"],)))
    with pytest.raises(TokenError, match="not valid"):
        crm.check(tina["IdToken"], "crm")  # tina holds crm too, but this token was issued to billing's client
    with pytest.raises(TokenError, match="another client"):
        crm.check(tina["AccessToken"], "crm")
    access = Verifier(access_config).check(tina["IdToken"], "billing")  # billing's own verifier takes it
    assert (access.role, access.level) == ("b", 2)


def test_a_verifier_without_a_client_id_accepts_nothing(access_config, tina):
    with pytest.raises(TokenError, match="No app client"):
        Verifier(dataclasses.replace(access_config, client_ids=("",))).check(tina["IdToken"], "billing")


@pytest.mark.parametrize(
    "make_token, reason",
    [
        (lambda iss, cid: forge.unsigned(forge.claims_for(iss, cid)), "not signed with RS256"),
        (lambda iss, cid: forge.hs256_with_public_key(forge.claims_for(iss, cid)), "not signed with RS256"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid), key=forge.other_key()), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for("https://evil.example.com/pool", cid)), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, "another-client")), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, "another-client", token_use="access")), "another client"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, token_use="refresh")), "malformed"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, lifetime=-60)), "expired"),
        (lambda iss, cid: "not.a.token", "malformed"),
        (lambda iss, cid: "", "malformed"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, aud="")), r"not valid \(MissingRequiredClaimError\)"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, aud=[cid, 7])), r"not valid \(InvalidAudienceError\)"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, aud={cid: 1})), r"not valid \(InvalidAudienceError\)"),
        (lambda iss, cid: forge.sign(forge.without(forge.claims_for(iss, cid), "sub")), "not valid"),
        (lambda iss, cid: forge.sign(forge.without(forge.claims_for(iss, cid), "iat")), "not valid"),
        (lambda iss, cid: forge.sign(forge.without(forge.claims_for(iss, cid), "token_use")), "not valid"),
        (lambda iss, cid: forge.with_header(forge.sign(forge.claims_for(iss, cid)), "[]"), "malformed"),
        (lambda iss, cid: forge.with_header(forge.sign(forge.claims_for(iss, cid)), "\u00e9t\u00e9"), "malformed"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid), kid=""), "unknown key"),
    ],
    ids=[
        "alg-none",
        "hs256-with-public-key",
        "other-key",
        "wrong-iss",
        "wrong-aud",
        "access-other-client",
        "unknown-use",
        "expired",
        "garbage",
        "empty",
        "aud-empty",
        "aud-not-strings",
        "aud-an-object",
        "no-sub",
        "no-iat",
        "no-token-use",
        "header-not-an-object",
        "header-not-base64",
        "no-kid",
    ],
)
def test_forged_tokens_are_refused(verifier, access_config, make_token, reason):
    token = make_token(access_config.issuer, access_config.client_ids[0])
    with pytest.raises(TokenError, match=reason):
        verifier.verify(token)


def test_an_id_token_for_several_audiences_counts_when_one_is_ours(verifier, access_config):
    ours = access_config.client_ids[0]
    claims = forge.claims_for(access_config.issuer, "another-client", aud=["another-client", ours])
    assert verifier.verify(forge.sign(claims)).sub == claims["sub"]


@pytest.mark.parametrize("use", ["id", "access", None])
def test_a_token_is_parsed_and_decoded_once(verifier, tina, monkeypatch, use):
    loads = []
    real = core.jwt.api_jws.PyJWS._load
    monkeypatch.setattr(core.jwt.api_jws.PyJWS, "_load", lambda self, token: loads.append(1) or real(self, token))
    verifier.verify(tina["AccessToken" if use == "access" else "IdToken"], use)
    assert loads == [1]


def test_each_distinct_header_is_parsed_once_and_never_mixed_up(verifier, access_config, tina, monkeypatch):
    parsed = []
    real = core._parsed_header
    monkeypatch.setattr(core, "_headers", {})
    monkeypatch.setattr(core, "_parsed_header", lambda segment: parsed.append(segment) or real(segment))
    for _ in range(3):
        verifier.verify(tina["IdToken"])
    other = forge.sign(forge.claims_for(access_config.issuer, access_config.client_ids[0]), kid="another-kid")
    with pytest.raises(TokenError, match="unknown key"):
        verifier.verify(other)
    assert parsed == [tina["IdToken"].split(".")[0], other.split(".")[0]]


def test_keys_are_fetched_once(verifier, tina, monkeypatch):
    fetched = []
    real = core.fetch_keys
    monkeypatch.setattr(core, "fetch_keys", lambda url, timeout: fetched.append(url) or real(url, timeout))
    for _ in range(5):
        verifier.check(tina["IdToken"], "billing")
    assert fetched == [verifier.config.keys_url]


def test_unreadable_keys_are_their_own_error(access_config, tina):
    from dataclasses import replace

    broken = Verifier(replace(access_config, jwks_url="http://127.0.0.1:9/jwks.json", timeout=(1, 1)))
    with pytest.raises(KeysUnavailable, match="signing keys could not be read"):
        broken.check(tina["IdToken"], "billing")


# --- The key cache and the token's length -------------------------------------------------------


class FakeResponse:
    """What requests.get returns, answering `status` with `body`."""

    def __init__(self, status: int, body: dict):
        self.status_code, self.body = status, body

    def raise_for_status(self):
        if self.status_code >= 400:
            raise core.requests.HTTPError(f"{self.status_code}")

    def json(self):
        return self.body


@pytest.fixture
def jwks_answers(monkeypatch):
    """Make every JWKS download answer the given (status, body); return the list of URLs downloaded."""
    downloads, answer = [], {}

    def get(url, timeout):
        downloads.append(url)
        return FakeResponse(*answer["value"])

    monkeypatch.setattr(core.requests, "get", get)
    return downloads, answer


@pytest.fixture
def clock(monkeypatch):
    """A monotonic clock the test moves by hand."""
    now = {"value": 1000.0}
    monkeypatch.setattr(core.time, "monotonic", lambda: now["value"])
    return now


@pytest.mark.parametrize(
    "status, body", [(500, {"message": "internal error"}), (200, {"keys": []})], ids=["500", "empty set"]
)
def test_a_failed_jwks_download_is_remembered_for_a_short_while(jwks_answers, clock, status, body):
    downloads, answer = jwks_answers
    answer["value"] = (status, body)
    keys = core.KeySet("https://pool.invalid/jwks.json", failure_seconds=10)
    for _ in range(5):
        with pytest.raises(KeysUnavailable):
            keys.key("kid-1")
    assert len(downloads) == 1  # not one download per token
    clock["value"] += 10
    with pytest.raises(KeysUnavailable):
        keys.key("kid-1")
    assert len(downloads) == 2  # tried again once the failure is old


def test_a_known_kid_never_waits_on_a_refetch():
    entered, release, order = threading.Event(), threading.Event(), []

    class SlowSecondDownload(core.KeySet):
        downloads = 0

        def _fetch(self, url):
            self.downloads += 1
            if self.downloads > 1:  # the refetch an unknown kid causes: it hangs until released
                entered.set()
                release.wait()
                order.append("refetch done")
            return {"known": "key"}

    keys = SlowSecondDownload("https://pool.invalid/jwks.json", refetch_seconds=0)
    assert keys.key("known") == "key"
    unknown = threading.Thread(target=lambda: pytest.raises(TokenError, keys.key, "unknown"))
    unknown.start()
    entered.wait()
    deadline = threading.Timer(3, release.set)  # without the fix the known kid waits for this release
    deadline.start()
    assert keys.key("known") == "key"
    order.append("known kid answered")
    release.set()
    unknown.join()
    deadline.cancel()
    assert order == ["known kid answered", "refetch done"]


def test_a_token_over_the_length_cap_is_refused_before_it_is_parsed(verifier, monkeypatch):
    parsed = []
    monkeypatch.setattr(core.jwt, "decode", lambda *args, **kwargs: parsed.append("decode"))
    monkeypatch.setattr(core, "_header", lambda *args, **kwargs: parsed.append("header"))
    token = "e" * (core.MAX_TOKEN_LENGTH + 1)
    for check in (
        verifier.verify,
        lambda t: core.verify(t, token_use="id", issuer="i", client_ids=["c"], keys=core.KeySet()),
    ):
        with pytest.raises(TokenError, match=r"too long \(over 8192 characters\)"):
            check(token)
    with pytest.raises(TokenError, match="too long"):
        core.verify_any(token, issuer="i", client_ids=["c"], keys=core.KeySet())
    assert parsed == []


def test_a_token_at_the_length_cap_is_parsed(verifier):
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify("e" * core.MAX_TOKEN_LENGTH)


def test_pyjwt_versions_with_known_advisories_are_excluded():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "cognito_access" / "pyproject.toml").read_text())["project"]
    (spec,) = [Requirement(line) for line in project["dependencies"] if line.lower().startswith("pyjwt")]
    # 2.10.0: iss matched as a substring (CVE-2024-53861); before 2.12.0: unknown `crit` headers accepted;
    # before 2.13.0: algorithm allow-list bypass with PyJWK and four more (GHSA-jq35-7prp-9v3f and others).
    assert not any(spec.specifier.contains(version) for version in ("2.8.0", "2.10.0", "2.11.1", "2.12.1"))
    pinned = next(
        line.split("==")[1]
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.lower().startswith("pyjwt")
    )
    assert spec.specifier.contains(pinned)


# --- WSGI middleware ----------------------------------------------------------------------------


def call_wsgi(app, token: str | None = None):
    """Call a WSGI app once; return (status code, headers, body bytes, environ)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": None}
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = int(status.split()[0]), dict(headers)

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body, environ


def hello(environ, start_response):
    """Answer with the role the middleware found."""
    access = environ[ENVIRON_KEY]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{access.role}{access.level}".encode()]


@pytest.fixture
def wsgi_app(verifier):
    """The hello app behind the middleware for billing."""
    return AccessMiddleware(hello, verifier, "billing")


def test_wsgi_lets_a_member_through_with_the_role(wsgi_app, tina):
    status, _, body, environ = call_wsgi(wsgi_app, tina["IdToken"])
    assert (status, body) == (HTTPStatus.OK, b"b2")
    assert environ[ENVIRON_KEY].applications == ("billing", "crm")


def test_wsgi_without_a_token_is_401_with_a_challenge(wsgi_app):
    status, headers, body, _ = call_wsgi(wsgi_app)
    assert status == HTTPStatus.UNAUTHORIZED and headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in json.loads(body)["error"]


def test_wsgi_bad_token_is_401_without_detail(wsgi_app, access_config):
    forged = forge.sign(forge.claims_for(access_config.issuer, access_config.client_ids[0]), key=forge.other_key())
    status, _, body, _ = call_wsgi(wsgi_app, forged)
    assert status == HTTPStatus.UNAUTHORIZED and json.loads(body) == {"error": "The token is not valid."}


def test_wsgi_non_member_is_403(verifier, tina):
    status, _, body, _ = call_wsgi(AccessMiddleware(hello, verifier, "hr"), tina["IdToken"])
    assert status == HTTPStatus.FORBIDDEN and b"no access to hr" in body


def test_wsgi_role_rule_is_403(verifier, tina):
    status, _, _, _ = call_wsgi(AccessMiddleware(hello, verifier, "billing", roles=["a"]), tina["IdToken"])
    assert status == HTTPStatus.FORBIDDEN


def test_wsgi_unreadable_keys_are_503(access_config, tina):
    from dataclasses import replace

    broken = Verifier(replace(access_config, jwks_url="http://127.0.0.1:9/jwks.json", timeout=(1, 1)))
    status, headers, _, _ = call_wsgi(AccessMiddleware(hello, broken, "billing"), tina["IdToken"])
    assert status == HTTPStatus.SERVICE_UNAVAILABLE and headers["Retry-After"]


# --- Django decorator ---------------------------------------------------------------------------


@require_application("billing")
def billing_view(request):
    """Answer with the role the decorator found."""
    return JsonResponse({"role": request.cognito_access.role, "level": request.cognito_access.level})


@pytest.fixture
def django_access(settings, access_config):
    """Configure COGNITO_ACCESS as a Django application would."""
    settings.COGNITO_ACCESS = {
        "region": access_config.region,
        "user_pool_id": access_config.user_pool_id,
        "client_ids": list(access_config.client_ids),
    }


def get(token: str | None = None):
    """Build a GET request, with a bearer token when given."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return RequestFactory().get("/billing/", **headers)


def test_decorator_exposes_role_and_level(django_access, tina):
    response = billing_view(get(tina["IdToken"]))
    assert response.status_code == HTTPStatus.OK and json.loads(response.content) == {"role": "b", "level": 2}


def test_decorator_without_token_is_401(django_access):
    response = billing_view(get())
    assert response.status_code == HTTPStatus.UNAUTHORIZED and response["WWW-Authenticate"].startswith("Bearer")


def test_decorator_non_member_is_permission_denied(django_access, make_cognito_user, app_sign_in):
    make_cognito_user("olga@example.com", apps=["crm"])
    with pytest.raises(PermissionDenied, match="no access to billing"):
        billing_view(get(app_sign_in("olga@example.com")["IdToken"]))


def test_decorator_without_configuration_says_what_is_missing(settings, tina):
    from django.core.exceptions import ImproperlyConfigured

    settings.COGNITO_ACCESS = None
    with pytest.raises(ImproperlyConfigured, match="COGNITO_ACCESS"):
        billing_view(get(tina["IdToken"]))


# --- Packaging ----------------------------------------------------------------------------------


def test_the_module_never_imports_django():
    code = "import sys, cognito_access, cognito_access.wsgi, cognito_access.decorators; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_module_builds_as_a_wheel(tmp_path):
    import shutil

    source = shutil.copytree(ROOT / "cognito_access", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("cognito_access-1.0.0-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "cognito_access/__init__.py",
        "cognito_access/tokens.py",
        "cognito_access/access.py",
        "cognito_access/wsgi.py",
        "cognito_access/decorators.py",
    } <= names
