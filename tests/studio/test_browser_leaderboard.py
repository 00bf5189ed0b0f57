"""In a real Chromium: compare two model families, pick one, train it, export it; the Train and
Evaluate pages photographed at 1400 and 420 px (test-artifacts/leaderboard_*.png, to be looked at)."""

from __future__ import annotations

import json

from tests.studio.test_browser import STEP_TIMEOUT_MS, browser, open_page, server, shot  # noqa: F401 — fixtures


def test_compare_two_families_pick_one_train_and_export(server, browser, tmp_path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(server)
    page.get_by_role("button", name="Build training set").click()
    page.get_by_text("Positive rate", exact=True).wait_for()

    open_page(page, "Train")
    page.get_by_role("button", name="Compare models").click()
    table = page.locator('[data-testid="stDataFrame"]').filter(has_text="Logistic regression")
    table.wait_for()
    page.get_by_text("Models compared in").wait_for()

    page.get_by_text("Logistic regression", exact=True).first.click()  # the Model picker's option
    page.get_by_role("button", name="Train model").click()
    page.get_by_text("Runs this session", exact=True).wait_for()
    page.get_by_text("min–max over 5 folds by prospect").wait_for()  # the compared run's range: its folds
    shot(page, "leaderboard_train_1400")

    open_page(page, "Evaluate")
    page.get_by_text("Flagging prospects who score").first.wait_for()
    page.get_by_role("button", name="Best profit").click()
    page.get_by_text("The model card and the run store keep this threshold").wait_for()
    shot(page, "leaderboard_evaluate_1400")

    open_page(page, "Score & export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download model card").click()
    card_path = tmp_path / "card.json"
    download_info.value.save_as(card_path)
    card = json.loads(card_path.read_text())
    assert "Logistic regression" in json.dumps(card["model"]) or "logistic" in json.dumps(card).lower()
    assert 0 <= card["recommended_threshold"]["value"] < 1  # Best profit may flag everyone: 0

    page.set_viewport_size({"width": 420, "height": 2400})
    for title in ("Train", "Evaluate"):
        expand = page.locator('[data-testid="stExpandSidebarButton"]')
        if expand.count() and expand.first.is_visible():
            expand.first.click()
            page.wait_for_timeout(400)
        open_page(page, title)
        collapse = page.locator('[data-testid="stSidebarCollapseButton"] button')
        if collapse.count():
            page.locator('[data-testid="stSidebar"]').hover()
            collapse.first.click(force=True)
            page.wait_for_timeout(600)
        page.locator(".js-plotly-plot").first.wait_for()
        shot(page, f"leaderboard_{title.lower()}_420")
