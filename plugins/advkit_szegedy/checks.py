"""Parameter checks shared by the szegedy analyses: clear one-line UsageErrors before any work."""

from __future__ import annotations

import advkit


def at_least(what: str, minimum: float, **values) -> None:
    """Refuse any of `values` below `minimum`."""
    for key, value in values.items():
        if value < minimum:
            raise advkit.UsageError(f"{what}: {key} must be >= {minimum}, got {value}")


def known_attack(what: str, spec: str) -> tuple[str, dict]:
    """`spec` ("NAME" or "NAME:key=value:key=value") as (name, parameters) if NAME is a registered attack."""
    name, _, rest = spec.partition(":")
    try:
        advkit.get_attack(name)
    except advkit.UsageError as exc:
        raise advkit.UsageError(f"{what}: {exc}") from None
    return name, advkit.parse_key_values(rest.split(":"), what=f"{what}: attack parameters")
