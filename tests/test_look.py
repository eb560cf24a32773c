"""One look: every template keeps the CSP (nothing inline), and every page has the same header and navigation."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.context_processors import current_section

TEMPLATES = sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))
# What the CSP refuses, written in a template: a style attribute or element, a script without src, a handler.
INLINE = {
    "a style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "a style element": re.compile(r"<style\b", re.IGNORECASE),
    "a script without src": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: address": re.compile(r"javascript:", re.IGNORECASE),
}
HEADER = re.compile(r'<header class="topbar">.*?</header>', re.DOTALL)


def test_the_template_check_finds_what_the_csp_refuses():
    samples = {
        "a style attribute": '<p style="color: red">',
        "a style element": "<style>p {}</style>",
        "a script without src": "<script>alert(1)</script>",
        "an event handler": '<button onclick="go()">',
        "a javascript: address": '<a href="javascript:go()">',
    }
    assert {name: bool(INLINE[name].search(sample)) for name, sample in samples.items()} == dict.fromkeys(samples, True)
    assert not any(pattern.search('<script src="/static/x.js" defer></script>') for pattern in INLINE.values())


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(settings.BASE_DIR)))
def test_no_template_has_inline_script_or_style(template):
    text = template.read_text()
    assert [name for name, pattern in INLINE.items() if pattern.search(text)] == []


@pytest.mark.parametrize(
    "url_name, section",
    [
        ("home", "home"),
        ("accounts:account", "account"),
        ("accounts:account_password", "account"),
        ("admin:index", "admin"),
        ("admin:accounts_directoryentry_changelist", "users"),
        ("admin:accounts_directoryentry_add", "users"),
        ("admin:accounts_directoryentry_access_dashboard", "access"),
        ("admin:accounts_directoryentry_access_matrix", "access"),
        ("admin:accounts_application_changelist", "applications"),
        ("admin:accounts_auditevent_changelist", "audit"),
        ("admin:accounts_bulkjob_changelist", "jobs"),
        ("admin:accounts_bulkjob_import", "jobs"),
        ("accounts:login", ""),
    ],
)
def test_each_page_belongs_to_its_section_of_the_navigation(url_name, section):
    assert current_section(reverse(url_name)) == section


def header_of(client, url: str) -> str:
    """Return the page's header, with the link of the current section unmarked and the CSRF token blanked."""
    page = client.get(url)
    assert page.status_code == 200, url
    header = HEADER.search(page.content.decode()).group(0).replace(' aria-current="page"', "")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', header)


@pytest.mark.django_db
def test_portal_and_admin_pages_share_one_header_and_mark_where_you_are(admin_client):
    pages = [
        reverse("home"),
        reverse("accounts:account"),
        reverse("admin:index"),
        reverse("admin:accounts_directoryentry_changelist"),
        reverse("admin:accounts_directoryentry_access_dashboard"),
        reverse("admin:accounts_application_changelist"),
        reverse("admin:accounts_auditevent_changelist"),
        reverse("admin:accounts_bulkjob_changelist"),
        reverse("admin:accounts_bulkjob_import"),
    ]
    headers = {url: header_of(admin_client, url) for url in pages}
    assert len(set(headers.values())) == 1, "the header differs between pages"
    users = admin_client.get(reverse("admin:accounts_directoryentry_changelist")).content.decode()
    assert f'href="{reverse("admin:accounts_directoryentry_changelist")}" aria-current="page">Users<' in users
    assert 'id="site-name"' not in users and 'id="user-tools"' not in users  # no stock admin header
    assert "theme-toggle" not in users  # light or dark follows the system, on every page alike


@pytest.mark.django_db
def test_the_help_desk_is_linked_only_to_what_it_may_use(helpdesk_client):
    header = header_of(helpdesk_client, reverse("admin:accounts_directoryentry_changelist"))
    links = re.findall(r">([^<>]+)</a>", header)
    assert links[1:-1] == ["Home", "Users", "Access", "Bulk jobs", "Access reviews", "Administration", "My account"]


@pytest.mark.django_db
def test_an_administrator_is_linked_to_the_registry_and_the_audit(admin_client):
    links = re.findall(r">([^<>]+)</a>", header_of(admin_client, reverse("home")))
    assert links[1:-1] == [
        "Home",
        "Users",
        "Access",
        "Applications",
        "Audit",
        "Bulk jobs",
        "Staff",
        "Access reviews",
        "Administration",
        "My account",
    ]
