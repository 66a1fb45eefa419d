"""The small feature spec the router tests share: one of each feature kind."""
BASIC_SPEC = [
    {"name": "description", "kind": "text"},
    {"name": "line_of_business", "kind": "categorical"},
    {"name": "claimed_amount", "kind": "numeric"},
    {"name": "loss_date", "kind": "date"},
    {"name": "report_date", "kind": "date"},
]
