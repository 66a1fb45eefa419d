"""Similar claims' similarity: shared leaves, and how close the router's probabilities are."""
from __future__ import annotations

import numpy as np

from ml.neighbours import nearest, similarity

LEAVES = np.array([[1, 2, 3, 4], [1, 2, 3, 9], [7, 8, 3, 9]], dtype=np.int32)
QUERY = np.array([1, 2, 3, 4], dtype=np.int32)
# Row 0 shares every leaf but the router reads it as another department; row 2 shares one
# leaf and the router reads it exactly as the query (the description, in the base margin).
PROBA = np.array([[0.1, 0.9], [0.5, 0.5], [0.95, 0.05]], dtype=np.float32)
QUERY_PROBA = np.array([0.95, 0.05], dtype=np.float32)


def test_leaves_alone_without_probabilities():
    assert similarity(LEAVES, QUERY).tolist() == [1.0, 0.75, 0.25]


def test_probabilities_weigh_half():
    sim = similarity(LEAVES, QUERY, PROBA, QUERY_PROBA)
    # 0.5 * leaves + 0.5 * (1 - total variation distance)
    assert np.allclose(sim, [0.5 * 1.0 + 0.5 * 0.15, 0.5 * 0.75 + 0.5 * 0.55, 0.5 * 0.25 + 0.5 * 1.0])
    rows, sims = nearest(LEAVES, QUERY, k=3, proba=PROBA, query_proba=QUERY_PROBA)
    assert rows.tolist() == [1, 2, 0] and np.all(np.diff(sims) <= 0)
    assert nearest(LEAVES, QUERY, k=1)[0].tolist() == [0]
