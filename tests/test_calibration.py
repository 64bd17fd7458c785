"""A reduced calibration study: fails if the draws audit stops being calibrated.

The full study (docs/calibration.md) runs 2,000 fair replicates of a
10,000-entity, 200-draw design; this one is smaller so the suite stays fast,
with the same acceptance rule: family-wise false-positive rate ≤ α + 2 SE.
"""

from __future__ import annotations

import math

from liushuang.audit import calibration as C


def test_false_positive_rate_and_power_on_a_reduced_design():
    result = C.run(replicates=300, battery=20, resamples=39, n_entities=3000, n_draws=60, seed=11,
                   manipulations=("favoured D-class", "frame exclusion", "list-order"), echo=lambda _: None)
    alpha = result["alpha"]
    assert result["false_positive_rate"] <= alpha + 2 * math.sqrt(alpha * (1 - alpha) / 300)
    power = {b["manipulation"].split(" ")[0] + " " + b["manipulation"].split(" ")[1]: b["power"] for b in result["battery"]}
    assert len(result["battery"]) == 3
    # Strong manipulations must be caught almost always; Wilson bounds are reported with them.
    assert all(b["power"] >= 0.8 for b in result["battery"]), power
    assert all(0 <= b["wilson"][0] <= b["power"] <= b["wilson"][1] <= 1 for b in result["battery"])
