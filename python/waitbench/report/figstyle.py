# SPDX-License-Identifier: Apache-2.0
"""What every chart of a report shares: size, fonts, colours, the figure and its titles.

Colours are the Okabe-Ito qualitative palette (distinguishable with the common colour-vision
deficiencies and in greyscale by lightness), so the five series of the headline chart (reported
utilization, SM activity, three workloads) never look alike.
"""

from __future__ import annotations

import textwrap
from typing import Any

from . import pivot

DPI = 100
WIDTH_IN = 10.0  # 1000 px at DPI: readable in a README without scaling
FONT_PT = 10
LABEL_PT = FONT_PT - 2
SUBTITLE_CHARS = 100  # a line of the title at FONT_PT + 2 fits 1000 px
REPORTED, SM = "#D55E00", "#E69F00"  # vermillion, orange
WORKLOAD_COLORS = ("#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#000000")  # blue, bluish green, purple, sky, black
MECHANISM_COLORS = {"device": "#D55E00", "front-end": "#009E73", "host": "#0072B2", "other": "#7f7f7f"}


def figure(height_in: float) -> Any:
    """A matplotlib Figure (object API, no pyplot) WIDTH_IN wide; ImportError naming the extra without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'waitbench[report]'") from None
    return Figure(figsize=(WIDTH_IN, round(height_in * DPI) / DPI), dpi=DPI, layout="constrained")  # whole pixels


def titles(fig: Any, title: str, info: pivot.RunInfo) -> None:
    """The chart's title and, under it, the GPU, driver and run it shows."""
    subtitle = textwrap.fill(info.subtitle(), SUBTITLE_CHARS)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=FONT_PT + 2, x=0.01, ha="left", linespacing=1.4)
