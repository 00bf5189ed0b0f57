"""A marketer's ordinary edits in a real browser never break the page.

Changing the long window twice used to raise "TypeError: bad argument type for built-in operation"
from the attribute form's Windows box: its option labels follow the windows, and the state Streamlit
kept for it no longer fit them. Everything below the SQL, Build included, disappeared.
"""

from __future__ import annotations

from tests.studio.test_browser import browser, new_session, server, shot  # noqa: F401 (fixtures)

EXCEPTION = '[data-testid="stException"]'


def no_exception(page) -> None:
    exceptions = page.locator(EXCEPTION)
    assert exceptions.count() == 0, exceptions.first.inner_text()


def test_window_edits_then_an_attribute_then_build(server, browser):  # noqa: F811
    page = new_session(browser, server)
    page.get_by_role("heading", name="Data & target").wait_for()
    page.get_by_role("button", name="Build training set").wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("CURRENT SPEC").wait_for()

    long_window = page.get_by_role("spinbutton", name="Long window (days)", exact=True)
    short_window = page.get_by_role("spinbutton", name="Short window (days)", exact=True)
    for box, short, long in ((long_window, 7, 45), (long_window, 7, 60), (short_window, 14, 60),
                             (long_window, 14, 90)):
        box.fill(str(long if box is long_window else short))
        box.press("Enter")
        # the rerun with this value has drawn to its end, or broke (then the sidebar stays a step behind)
        sidebar.get_by_text(f"{short} d and {long} d").or_(page.locator(EXCEPTION)).first.wait_for()
        no_exception(page)
        page.get_by_role("button", name="Add attribute").wait_for()

    page.get_by_role("textbox", name="Name", exact=True).fill("num_customers_views")
    page.get_by_role("button", name="Add attribute").click()
    try:
        page.get_by_text("22 model inputs").wait_for(timeout=30_000)  # the tutorial's 20 and its two windows
    finally:
        shot(page, "11_attribute_added")
    no_exception(page)

    page.get_by_role("button", name="Build training set").click()
    page.get_by_text("Positive rate", exact=True).wait_for()
    no_exception(page)
    shot(page, "11_after_window_edits")
    page.context.close()
