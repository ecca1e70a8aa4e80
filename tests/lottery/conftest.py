"""Fixtures of the lottery tests: configurations are cached per process, so every test
starts without them."""

from __future__ import annotations

import pytest

from campaigns.lottery.services import draw
from campaigns.services import claims


@pytest.fixture(autouse=True)
def _fresh_configs():
    claims.campaign_config_forget()
    draw.lottery_config_forget()
    yield
    claims.campaign_config_forget()
    draw.lottery_config_forget()
