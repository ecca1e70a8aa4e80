"""Statistics of A/B tests (D13): a two-proportion z-test of claim rates."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ProportionTest:
    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> ProportionTest | None:
    """Whether x1/n1 and x2/n2 differ (pooled, two-sided); None when either arm is empty
    or nobody (or everybody) converted, where the test says nothing."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return ProportionTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))
