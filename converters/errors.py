"""Errors and warnings of sbtf's converter."""

from __future__ import annotations


class ConversionError(ValueError):
    """A model, file or option the converter cannot handle; the message says which and why."""


class ConversionWarning(UserWarning):
    """A signed-binary layer that stays a builtin int8 op (the message names it and says why)."""
