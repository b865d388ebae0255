"""Errors a browser can reach are pages with a way back; the API keeps its JSON."""

from __future__ import annotations

import pytest

from api.errors import install_error_handlers
from api.pages import error_page
from tests.api.factories import VALID_SOURCE
from tests.api.pages.test_pages import login

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def assert_page(response, status: int, *, heading: str, links: tuple[str, ...] = ("/",)):
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert f'<h1 id="error-title">{heading}</h1>' in text
    assert '{"error"' not in text and "Input should be" not in text  # no raw API body
    for href in links:
        assert f'href="{href}"' in text.split('id="way-back"')[1], href


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/phases/99", 404, "Page not found"),
        ("/nonexistent", 404, "Page not found"),
        ("/phases/abc", 422, "Address not valid"),
        ("/logout", 405, "Not a page"),
    ],
)
def test_browser_gets_an_error_page_with_a_way_back(client, world, path, status, heading):
    assert_page(client.get(path, headers=BROWSER), status, heading=heading)


def test_invalid_address_is_explained_in_words(client, world):
    page = client.get("/phases/abc", headers=BROWSER).text
    assert "“abc” is not a number as the phase in this address" in page


def test_unknown_phase_says_which_and_a_sub_page_links_back_to_its_phase(client, world):
    assert "Phase 99 not found." in client.get("/phases/99", headers=BROWSER).text
    page = client.get(f"/phases/{world.phase_id}/nothing-here", headers=BROWSER)
    assert_page(page, 404, heading="Page not found", links=(f"/phases/{world.phase_id}", "/"))
    assert "Back to dev" in page.text


def test_api_and_json_clients_keep_the_json_body(client, world):
    for path, headers in (
        ("/api/v1/phases/99", BROWSER),  # the API answers JSON even to a browser
        ("/phases/99", {"accept": "application/json"}),
        ("/phases/99", {}),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_other_teams_submission_page_is_a_404_page_with_links(client, world):
    sub_id = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    ).json()["id"]
    login(client, world.carol.email)
    page = client.get(f"/submissions/{sub_id}", headers=BROWSER)
    assert_page(page, 404, heading="Page not found", links=("/submissions", "/"))
    assert 'id="logout"' in page.text  # the header knows the viewer


def test_participant_on_console_gets_a_403_page(client, world):
    login(client, world.alice.email)
    assert_page(client.get("/admin", headers=BROWSER), 403, heading="Not allowed")


def test_refused_phase_delete_links_back_to_the_phase(client, world):
    client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        headers=world.alice.headers,
        files={"file": ("submission.py", VALID_SOURCE)},
    )
    login(client, world.organizer.email)
    refused = client.post(f"/admin/phases/{world.phase_id}/delete", headers=BROWSER)
    assert_page(
        refused,
        409,
        heading="Not possible now",
        links=(f"/admin/phases/{world.phase_id}/edit", f"/phases/{world.phase_id}", "/"),
    )


def test_internal_error_is_a_page_for_browsers_and_fixed_json_for_the_api(settings, queue):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.pages.render import STATIC_DIR  # noqa: F401  (the templates' package loads)

    app = FastAPI()
    install_error_handlers(app, page=error_page)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/boom", headers=BROWSER)
    assert_page(page, 500, heading="Something went wrong")
    assert "secret detail" not in page.text
    body = client.get("/boom").json()
    assert body["error"]["code"] == "internal_error" and "secret" not in str(body)


def test_too_large_upload_from_the_form_is_a_page_with_a_way_back(client, world, settings):
    login(client, world.alice.email)
    big = b"x" * (settings.max_upload_bytes + 70 * 1024)
    refused = client.post(
        f"/phases/{world.phase_id}/submit",
        files={"file": ("submission.py", big)},
        headers=BROWSER,
    )
    assert_page(refused, 413, heading="Too large", links=(f"/phases/{world.phase_id}", "/"))
    assert "send a smaller file" in refused.text
    # The control: the API's upload keeps its JSON body.
    api = client.post(
        f"/api/v1/phases/{world.phase_id}/submissions",
        files={"file": ("submission.py", big)},
        headers={**world.alice.headers, **BROWSER},
    )
    assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"
