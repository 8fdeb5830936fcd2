"""Parameter checks shared by the szegedy analyses: clear one-line UsageErrors before any work."""

from __future__ import annotations

import advkit


def at_least(what: str, minimum: float, **values) -> None:
    """Refuse any of `values` below `minimum`."""
    for key, value in values.items():
        if value < minimum:
            raise advkit.UsageError(f"{what}: {key} must be >= {minimum}, got {value}")


def known_attack(what: str, name: str) -> str:
    """`name` if it names a registered attack (the registry's error, with suggestions, otherwise)."""
    try:
        advkit.get_attack(name)
    except advkit.UsageError as exc:
        raise advkit.UsageError(f"{what}: {exc}") from None
    return name
