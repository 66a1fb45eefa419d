import dash

from components.common import message

dash.register_page(__name__, path="/404", title="Not found · SCOPE Assistant")


def layout(**_query):
    return message("Page not found", "That address does not exist in SCOPE.", "secondary")
