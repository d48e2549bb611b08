"""Debian's Chromium for the Playwright tests (browsers cannot be downloaded here): started
once per test session, a fresh context per page, the devices the clinic's people use, and
logging in as a persona."""

import os
import re
import subprocess
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in the test's thread; the test's own database
# calls are still plain synchronous ones.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
# No sandbox as root; nothing that phones home (the machine's network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Browser context options of the devices: the patient's phone, the nurses' tablet (portrait)
# and a desk's screen.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """Chromium started once for the session; each test connects to it over the DevTools
    protocol. (A Playwright session kept open across tests would keep its event loop running
    in the thread, under which Django restores no serialized database between tests.)"""
    profile = tmp_path_factory.mktemp("chromium")
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--remote-debugging-port=0", f"--user-data-dir={profile}"]
        + CHROMIUM_ARGS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Chromium writes the port it listens on, and the browser's path, once it is ready.
    active_port = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while len(written := active_port.read_text().split() if active_port.exists() else []) < 2:
        assert process.poll() is None, f"{CHROMIUM} exited with {process.returncode}"
        assert time.monotonic() < deadline, f"{CHROMIUM} did not start within 30 s"
        time.sleep(0.05)
    port, path = written[:2]
    yield f"ws://127.0.0.1:{port}{path}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def open_page(chromium, live_server, settings):
    """`open_page(device, **options)`: a new page in a context of its own (no cookies or
    storage of an earlier test), whose relative addresses go to the live server."""
    # The live server speaks plain http.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(chromium)
        contexts = []

        def open_page(device, **options):
            context = browser.new_context(base_url=live_server.url, **device, **options)
            contexts.append(context)
            return context.new_page()

        yield open_page
        for context in contexts:
            context.close()
        browser.close()


def login(page, persona):
    """Log in on the login page as `persona` and wait until the clinic lets them in."""
    page.goto(reverse("login"))
    page.get_by_label("Username").fill(persona.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(re.escape(reverse("login"))))
