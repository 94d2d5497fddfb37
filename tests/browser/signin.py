"""Signing in through the pages, as a person does: the password, then the code their app shows."""

from accounts.models import User
from tests.builders import PASSWORD, make_totp_device, totp_code


def sign_in(page, email, password=PASSWORD, path="/login/"):
    """The login form at `path`, then the second-factor page with the current code of the user's
    authenticator (made here if they have none). Leaves the page wherever the login goes next."""
    device = make_totp_device(User.objects.get(email=email))
    page.goto(path)
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("[type=submit]").click()
    page.wait_for_url("**/login/second-factor/**")
    page.get_by_label("Code").fill(totp_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")
