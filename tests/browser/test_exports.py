"""The clinic admin downloads each export from the demo clinic, in real Chromium."""

import json

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect

from measures.management.commands.seed_demo import ADMIN, DEMO_PASSWORD
from measures.models import ExportRecord
from tests.browser.signin import sign_in
from tests.demo import seed_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_admin_downloads_each_export(page, tmp_path):
    seed_demo()
    sign_in(page, ADMIN[0], DEMO_PASSWORD)
    page.wait_for_url("**/clinic/")  # signed in before the next address is asked for
    page.goto(reverse("dashboard:exports"))
    kinds = [code for code, _label in ExportRecord.Kind.choices]
    for kind in kinds:
        # The whole-clinic FHIR bundle is built and validated before it is sent (about 4 s for the
        # demo on a busy machine): wait for it longer than for a click.
        with page.expect_download(timeout=90_000) as download_info:
            page.locator(f"button[data-export='{kind}']").click(timeout=90_000)
        download = download_info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        text = path.read_text(encoding="utf-8")
        if kind == "fhir":
            assert path.suffix == ".json"
            Bundle.model_validate(json.loads(text))
        else:
            assert path.suffix == ".csv" and len(text.splitlines()) > 2
    assert list(ExportRecord.objects.order_by("created_at", "pk").values_list("kind", flat=True)) == kinds
    assert all(record.rows for record in ExportRecord.objects.all())
    page.reload()
    expect(page.get_by_role("heading", name="Recent exports")).to_be_visible()
    assert page.locator("table tbody tr").count() == len(kinds)
