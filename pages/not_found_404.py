import dash
from dash import dcc, html

from components.common import message

dash.register_page(__name__, path="/404", title="Not found · SCOPE Assistant")


def layout(**_query):
    # Reached by in-app navigation to an unknown address (a direct visit gets the server's 404 page).
    return html.Div([message("Page not found", "That address does not exist in SCOPE.", "secondary"),
                     dcc.Link("Back to SCOPE", href="/", className="btn btn-primary")])
