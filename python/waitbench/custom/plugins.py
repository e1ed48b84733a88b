# SPDX-License-Identifier: Apache-2.0
"""Strategies shipped by other packages, found through the ``waitbench.strategies`` entry-point group.

A package declares, in its pyproject.toml::

    [project.entry-points."waitbench.strategies"]
    my-strategies = "my_package.waits:register"

and the entry point names a module (importing it registers its strategies) or a function that
takes no argument and registers them. waitbench loads the group once, the first time the strategy
table is listed or a name is looked up that it does not hold. A plugin that fails to load costs one
warning line and is skipped: the built-ins and the other plugins still work.
"""

from __future__ import annotations

import inspect
import logging
from importlib import metadata
from types import ModuleType

from .registry import loading_source

GROUP = "waitbench.strategies"
log = logging.getLogger("waitbench")


def load_plugins() -> list[str]:
    """Load every entry point of the group; returns the names of those that loaded."""
    loaded = []
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        token = loading_source.set(f"plugin:{dist}")
        try:
            target = ep.load()
            if inspect.isfunction(target):
                target()
            elif not isinstance(target, ModuleType):
                raise TypeError(f"{ep.value} is a {type(target).__name__}: expected a module or a function that "
                                "registers strategies")
            loaded.append(ep.name)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the others (or the CLI) down
            log.warning("waitbench: skipped strategy plugin %r from %s (%s): %s: %s", ep.name, dist, ep.value,
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        finally:
            loading_source.reset(token)
    return loaded
