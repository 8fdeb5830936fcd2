"""Perturbation norms: the size of a perturbation per norm and the one tolerance of every eps-ball check."""

from __future__ import annotations

NORMS = ("Linf", "L2", "L1", "L0")
