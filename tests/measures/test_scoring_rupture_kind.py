"""Scoring the kind of rupture: only after "something felt off", only one of the options."""

from types import SimpleNamespace

import pytest

from measures.scoring import rupture_type

ITEMS = [
    SimpleNamespace(code="rupture", subscale="rupture", kind="yes_no", options=[]),
    SimpleNamespace(code="rupture_discussed", subscale="rupture", kind="yes_no", options=[]),
    SimpleNamespace(code="kind", subscale="rupture_type", kind="choice", options=["withdrawal", "confrontation"]),
]


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"rupture": True, "kind": "confrontation"}, "confrontation"),
        ({"rupture": True, "rupture_discussed": True, "kind": "withdrawal"}, "withdrawal"),
        ({"rupture": True}, None),
        ({"rupture": False, "kind": "confrontation"}, None),
        ({"kind": "confrontation"}, None),
        ({"rupture": True, "kind": "anger"}, None),
    ],
)
def test_the_kind_counts_only_after_something_felt_off(values, expected):
    assert rupture_type(ITEMS, values) == expected


def test_an_instrument_without_the_item_gives_no_kind():
    assert rupture_type(ITEMS[:2], {"rupture": True}) is None
