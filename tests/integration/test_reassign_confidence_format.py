"""The Reassign board shows routing confidence with the queue grid's renderer, which rounds down
(a claim at 49.98% must not read "50%" next to the 50% threshold; d3's '.0%' rounded to nearest)."""
from __future__ import annotations

from pathlib import Path

from components.queue_filters import queue_columns

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _confidence(columns):
    return next(c for c in columns if c.get("field") == "confidence")


def test_reassign_board_uses_the_queue_confidence_renderer(web_app):
    from pages.reassign import COLUMNS

    board, queue = _confidence(COLUMNS), _confidence(queue_columns(currency="USD"))
    assert board["cellRenderer"] == queue["cellRenderer"] == "ConfidenceBar"
    assert "valueFormatter" not in board  # no second, rounding-to-nearest format
    js = (ASSETS / "dashAgGridComponentFunctions.js").read_text()
    renderer = js[js.index("dagcomponentfuncs.ConfidenceBar"):]
    assert "Math.floor(v * 100" in renderer
