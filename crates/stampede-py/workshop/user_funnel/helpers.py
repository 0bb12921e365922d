# Helpers for the workshop's user funnel (../shared/seeds/001_*): reading what the shop's
# pages carry. Locust 0.8 era; BeautifulSoup for the HTML.
from bs4 import BeautifulSoup
from faker import Faker

fake = Faker()

#: The address the funnel's buyers ship to (the shop's shipping-address form).
ADDRESS = {
    "first_name": "Ada", "last_name": "Lovelace", "company_name": "",
    "street_address_1": "1 Main St", "street_address_2": "", "city": "Cleveland",
    "city_area": "", "postal_code": "44111", "country": "US", "country_area": "OH",
    "phone": "+12165550142",
}


class Helpers(object):
    def parse_csrf(self, html):
        """The form's hidden csrfmiddlewaretoken."""
        soup = BeautifulSoup(html, "html.parser")
        field = soup.find("input", {"name": "csrfmiddlewaretoken"})
        return field["value"] if field else ""

    def csrf_header(self):
        """Django's AJAX idiom: the csrftoken cookie's value in X-CSRFToken."""
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}
