"""Scoring a set of answers into subscale scores on a common 0–10 scale."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Scores:
    goals: Decimal
    tasks: Decimal
    bond: Decimal
    total: Decimal
    shared: Decimal | None
    rupture: int | None
    rupture_type: str | None = None


def _rescaled_mean(items_and_values):
    """Mean of the (reverse-flipped) values, each mapped from its item's range onto 0–10."""
    parts = [
        Decimal(item.score(value) - item.scale_min) * 10 / (item.scale_max - item.scale_min)
        for item, value in items_and_values
    ]
    return sum(parts) / len(parts) if parts else None


def _q(value):
    return None if value is None else value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def compute_scores(items, values):
    """Score one response. `items` are the Items asked; `values` maps item code → int/bool/str/None.

    Rating items with no value are skipped (the form requires them, licensed instruments may not);
    each of goals, tasks and bond must have at least one rated item, or ValueError is raised.
    """
    by_subscale = {}
    for item in items:
        if item.kind == "rating" and values.get(item.code) is not None:
            by_subscale.setdefault(item.subscale, []).append((item, values[item.code]))
    means = {name: _rescaled_mean(by_subscale.get(name, [])) for name in ("goals", "tasks", "bond", "shared")}
    missing = [name for name in ("goals", "tasks", "bond") if means[name] is None]
    if missing:
        raise ValueError(f"no rated item for {', '.join(missing)}")
    total = (means["goals"] + means["tasks"] + means["bond"]) / 3
    return Scores(
        goals=_q(means["goals"]),
        tasks=_q(means["tasks"]),
        bond=_q(means["bond"]),
        total=_q(total),
        shared=_q(means["shared"]),
        rupture=rupture_code(items, values),
        rupture_type=rupture_type(items, values),
    )


def rupture_code(items, values):
    """0 nothing felt off, 1 felt off and not talked through (or not said), 2 talked through."""
    codes = [item.code for item in items if item.subscale == "rupture"]
    if not codes or values.get(codes[0]) is None:
        return None
    if not values[codes[0]]:
        return 0
    if len(codes) > 1 and values.get(codes[1]):
        return 2
    return 1


def rupture_type(items, values):
    """The kind of rupture the client chose (withdrawal / confrontation), or None.

    Only after "something felt off" (rupture code 1 or 2): a kind left over from a changed
    answer to the rupture question is not a rupture.
    """
    if rupture_code(items, values) not in (1, 2):
        return None
    for item in items:
        if item.subscale == "rupture_type" and values.get(item.code) in item.options:
            return values[item.code]
    return None
