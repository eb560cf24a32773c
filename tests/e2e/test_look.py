"""One look in a real browser: the same header everywhere, long values that wrap, light and dark, the screenshots."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts import cognito
from accounts.directory import selectors, services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1280, "height": 800}
LONG_NAME = "W" * services.NAME_MAX  # one unbroken word, as long as the portal accepts
ARN = "arn:aws:iam::123456789012:role/applications/billing-invoices-lambda-access"


@pytest.fixture
def people(pool, make_cognito_user):
    """A small directory, as a help desk sees it on a working day; returns the user whose page is shown."""
    make_cognito_user("grace.hopper@example.com", role=("c", 3), apps=["hr", "crm"], name="Grace Hopper")
    make_cognito_user("alan.turing@example.com", role=("b", 2), apps=["crm", "hr"], name="Alan Turing")
    make_cognito_user("barbara.liskov@example.com", role=("b", 1), apps=["billing"], name="Barbara Liskov")
    make_cognito_user("edsger.dijkstra@example.com", role=("a", 1), apps=["billing", "crm"], name="Edsger Dijkstra")
    ada = make_cognito_user("ada.lovelace@example.com", role=("a", 2), apps=["billing", "hr"], name="Ada Lovelace")
    services.directory_sync(actor="test")
    return ada


def user_page(sub: str) -> str:
    """Return the address of a user's page."""
    return reverse("admin:accounts_directoryentry_change", args=[sub])


def header(page) -> dict:
    """Return what the header shows and how it looks: its links, its colours, its height."""
    return page.evaluate(
        """() => {
            const bar = document.querySelector('header.topbar');
            const style = getComputedStyle(bar);
            return {links: [...bar.querySelectorAll('nav a')].map(a => a.textContent.trim()),
                    background: style.backgroundColor, color: style.color, font: style.fontSize,
                    height: Math.round(bar.getBoundingClientRect().height)};
        }"""
    )


def luminance(css_colour: str) -> float:
    """Return the relative brightness (0 black to 1 white) of an rgb() colour."""
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_home_users_user_page_registry_and_audit_share_one_header(sign_in_browser, admin_user, people):
    page = sign_in_browser(admin_user)
    page.set_viewport_size(WIDE)
    seen = {}
    for url in [
        reverse("home"),
        reverse("admin:accounts_directoryentry_changelist"),
        user_page(people.sub),
        reverse("admin:accounts_application_changelist"),
        reverse("admin:accounts_auditevent_changelist"),
    ]:
        page.goto(url)
        seen[url] = header(page)
        expect(page.locator("#site-name, #user-tools, .theme-toggle")).to_have_count(0)
    assert len({repr(shown) for shown in seen.values()}) == 1, seen
    assert seen[reverse("home")]["links"] == [
        "Home", "Users", "Access", "Applications", "Audit", "Bulk jobs", "Staff", "Access reviews", "Administration",
        "My account",
    ]  # fmt: skip
    page.goto(reverse("admin:accounts_auditevent_changelist"))
    expect(page.locator("header.topbar nav a[aria-current=page]")).to_have_text("Audit")


def test_a_256_character_name_keeps_role_applications_and_status_on_screen(
    sign_in_browser, admin_user, people, make_cognito_user
):
    long = make_cognito_user("long.name@example.com", role=("b", 3), apps=["crm"], name=LONG_NAME)
    services.directory_sync(actor="test")
    assert selectors.entry_get(long.sub).name == LONG_NAME
    page = sign_in_browser(admin_user)
    page.set_viewport_size(WIDE)
    page.goto(reverse("admin:accounts_directoryentry_changelist"))
    expect(page.locator("#result_list tbody tr")).to_have_count(len(selectors.directory_entries()))
    right_edges = page.evaluate(
        """() => Object.fromEntries(['role_display', 'applications_display', 'status', 'display_name'].map(name => {
            const box = document.querySelector('#result_list th.column-' + name).getBoundingClientRect();
            return [name, box.right];
        }))"""
    )
    assert all(edge <= WIDE["width"] for edge in right_edges.values()), right_edges
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]
    widths = page.eval_on_selector_all("#result_list thead th", "cells => cells.map(cell => cell.offsetWidth)")
    assert min(widths) >= 30, f"a column is squeezed to nothing: {widths}"
    row = page.locator("#result_list tbody tr", has_text="long.name@example.com")
    for cell in ["td.field-role_display", "td.field-applications_display", "td.field-status"]:
        box = row.locator(cell).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDE["width"], (cell, box)

    page.goto(user_page(long.sub))
    expect(page.locator("#user-name")).to_have_text(LONG_NAME)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]


def test_a_300_character_name_is_refused_by_the_server_not_cut_by_the_browser(sign_in_browser, admin_user, people):
    page = sign_in_browser(admin_user)
    page.goto(reverse("admin:accounts_directoryentry_add"))
    page.fill("#id_email", "too.long@example.com")
    page.fill("#id_name", "n" * 300)
    assert len(page.input_value("#id_name")) == 300  # nothing cut in the page
    page.fill("#id_level", "1")
    page.click("#invite-submit")
    expect(page.locator("#invite-form .errorlist")).to_contain_text(
        services.MESSAGES["invalid_name"].format(max=services.NAME_MAX)
    )
    with pytest.raises(cognito.UserNotFound):
        cognito.user_get("too.long@example.com")


def test_the_dashboard_buttons_stay_clear_of_the_needs_attention_header(sign_in_browser, admin_user, people):
    page = sign_in_browser(admin_user)
    page.set_viewport_size(WIDE)
    page.goto(reverse("admin:accounts_directoryentry_access_dashboard"))
    heading = page.locator("#attention h2").bounding_box()
    buttons = [link.bounding_box() for link in page.locator(".object-tools a").all()]
    assert len(buttons) == 2
    assert all(box["y"] + box["height"] <= heading["y"] for box in buttons), (buttons, heading)


def test_the_registry_shows_a_whole_description_and_arn(sign_in_browser, admin_user, people):
    page = sign_in_browser(admin_user)
    page.set_viewport_size(WIDE)
    page.goto(reverse("admin:accounts_application_add"))
    page.fill("#id_description", "Billing, invoices and the monthly statements sent to every customer")
    page.fill("#id_role_arn", ARN)
    for field in ["#id_description", "#id_role_arn"]:
        widths = page.eval_on_selector(field, "input => [input.clientWidth, input.scrollWidth]")
        assert widths[0] >= widths[1], f"{field} hides part of its value: {widths}"


def test_dark_mode_renders_portal_and_admin_pages_dark(sign_in_browser, admin_user, people):
    page = sign_in_browser(admin_user)
    page.emulate_media(color_scheme="dark")
    for url in [reverse("home"), reverse("admin:accounts_directoryentry_changelist"), user_page(people.sub)]:
        page.goto(url)
        colours = page.evaluate(
            """() => ({body: getComputedStyle(document.body).backgroundColor,
                       text: getComputedStyle(document.querySelector('h1')).color,
                       card: getComputedStyle(document.querySelector('.card, .module')).backgroundColor})"""
        )
        assert luminance(colours["body"]) < 0.2 and luminance(colours["card"]) < 0.2, (url, colours)
        assert luminance(colours["text"]) > 0.7, (url, colours)
    page.emulate_media(color_scheme="light")
    page.goto(reverse("admin:accounts_directoryentry_changelist"))
    assert luminance(page.evaluate("getComputedStyle(document.body).backgroundColor")) > 0.9


def png_size(path) -> tuple[int, int]:
    """Return a PNG file's width and height, read from its header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_the_readme_screenshots_of_sign_in_directory_and_user_page(
    page, sign_in_browser, admin_user, people, screenshot_dir
):
    page.set_viewport_size({"width": 900, "height": 500})
    page.goto(reverse("accounts:login"))
    page.screenshot(path=screenshot_dir / "screenshot-login.png")
    sign_in_browser(admin_user)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(reverse("admin:accounts_directoryentry_changelist"))
    expect(page.locator("#result_list tbody tr")).to_have_count(len(selectors.directory_entries()))
    page.screenshot(path=screenshot_dir / "screenshot-directory.png")
    page.goto(user_page(people.sub))
    expect(page.locator("#user-name")).to_have_text("Ada Lovelace")
    page.screenshot(path=screenshot_dir / "screenshot-user-page.png")
    assert png_size(screenshot_dir / "screenshot-login.png") == (900, 500)
    assert png_size(screenshot_dir / "screenshot-directory.png") == (1280, 720)
    assert png_size(screenshot_dir / "screenshot-user-page.png") == (1280, 720)
