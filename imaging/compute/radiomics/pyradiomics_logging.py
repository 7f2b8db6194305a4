"""pyradiomics' log, printed once and at the level the application chose.

When it is imported, pyradiomics adds its own stderr handler to the ``radiomics`` logger (level set by
``radiomics.setVerbosity``, WARNING by default) and sets that logger to INFO. In an application that configures
logging (Django's ``LOGGING`` puts a console handler on the root logger and the ``radiomics`` logger at WARNING)
that meant:

* every pyradiomics warning was printed twice: bare by pyradiomics' handler, formatted by the application's
  (issue 9, "pyradiomics warnings are logged twice");
* the application's level for ``radiomics`` was overwritten by INFO as soon as an extraction module was imported,
  so pyradiomics' INFO narration reached the console anyway.

This module imports pyradiomics (the package ``__init__`` imports it before anything else here does) and

* gives the ``radiomics`` logger back the level it had before pyradiomics' import, when one was set;
* lets pyradiomics' handler print a record only when no other handler would: a script that configures no logging
  still sees pyradiomics' output as ``setVerbosity`` chose, an application sees each record once, through its own
  handlers.

Records still reach every handler on the way (the per-region capture in :mod:`.patches` included), so nothing
pyradiomics reports is lost. Pure Python; no Django imports.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["import_pyradiomics"]


class _OnlyWhereUnheard(logging.Filter):
    """Pass a record to pyradiomics' own handler only if no other handler on its way would emit it."""

    def filter(self, record: logging.LogRecord) -> bool:
        import radiomics

        own = radiomics.handler
        current: logging.Logger | None = logging.getLogger(record.name)
        while current is not None:
            for handler in current.handlers:
                if handler is own or getattr(handler, "collects_only", False):
                    continue
                if record.levelno >= handler.level:
                    return False
            if not current.propagate:
                break
            current = current.parent
        return True


_ONLY_WHERE_UNHEARD = _OnlyWhereUnheard()


def import_pyradiomics():
    """Import pyradiomics with its logging set up as described in the module docstring; returns the module.

    Idempotent. The level is restored only by the call that imports pyradiomics for the first time (later, the
    level pyradiomics set cannot be told from one the application set).
    """
    logger = logging.getLogger("radiomics")
    first_import = "radiomics" not in sys.modules
    level = logger.level
    import radiomics

    if first_import and level != logging.NOTSET:
        logger.setLevel(level)
    if _ONLY_WHERE_UNHEARD not in radiomics.handler.filters:
        radiomics.handler.addFilter(_ONLY_WHERE_UNHEARD)
    return radiomics


import_pyradiomics()
