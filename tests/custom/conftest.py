# SPDX-License-Identifier: Apache-2.0
"""Every test here leaves the strategy table as it found it: research strategies it registered are
removed afterwards, so the built-in tests (which list the table) never see them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

st = importlib.import_module("waitbench.strategies")


@pytest.fixture(autouse=True)
def clean_table() -> Iterator[None]:
    before = set(st._TABLE)
    yield
    for name in [n for n in st._TABLE if n not in before]:
        st.remove(name)
