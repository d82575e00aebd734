"""Measurements of edits: how much of an edit a smooth warp explains (E)."""

from .warp import WarpFit, fit_warp, warp_explained

__all__ = ["WarpFit", "fit_warp", "warp_explained"]
