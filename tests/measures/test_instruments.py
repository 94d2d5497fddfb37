"""Instrument definition files: the bundled one loads, malformed ones are refused clearly."""

import copy
import json

import pytest
from django.core.management import CommandError, call_command

from measures.definitions import DefinitionError, bundled_definitions, parse_definition, read_definition
from measures.models import Instrument


@pytest.fixture(scope="module")
def valid():
    return json.loads(bundled_definitions()[0].read_text())


def test_the_bundled_instrument_is_valid_and_complete(valid):
    definition = parse_definition(valid)
    subscales = {item["subscale"] for item in definition["items"]}
    assert {"goals", "tasks", "bond", "shared", "rupture", "note"} <= subscales
    assert sum(item["subscale"] == "goals" for item in definition["items"]) == 2
    assert all(item["audience"] == "multi" for item in definition["items"] if item["subscale"] == "shared")


def mutate(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


DELETE = object()
MALFORMED = [
    (("format",), 2, "'format' must be 1"),
    (("code",), "has spaces", "'code' must be a short slug"),
    (("version",), 0, "'version' must be a whole number"),
    (("languages",), ["es"], "includes 'en'"),
    (("items",), [], "non-empty list"),
    (("items", 0, "kind"), "slider", "'kind' must be one of"),
    (("items", 0, "subscale"), "mood", "'subscale' must be one of"),
    (("items", 0, "scale"), [10, 0], "low end must be below"),
    (("items", 0, "scale"), [0, 1.5], "whole numbers"),
    (("items", 1, "code"), "goals_focus", "code used twice"),
    (("items", 0, "text", "es"), DELETE, "no text for language 'es'"),
    (("items", 0, "text", "en", "low"), "", "text.en.low"),
    (("items", 9, "depends_on"), "later_item", "must name an earlier item"),
    (("psychometrics", "reliability", "total"), 1.5, "between 0 and 1"),
]


@pytest.mark.parametrize("path, value, message", MALFORMED, ids=[m[2] for m in MALFORMED])
def test_a_malformed_definition_is_refused_with_a_clear_message(valid, path, value, message):
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_definition(mutate(copy.deepcopy(valid), path, value))


def test_an_instrument_without_bond_items_is_refused(valid):
    data = copy.deepcopy(valid)
    data["items"] = [item for item in data["items"] if item["subscale"] != "bond"]
    with pytest.raises(DefinitionError, match="rating item for bond"):
        parse_definition(data)


def test_broken_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": 1,\n "code": }')
    with pytest.raises(DefinitionError, match="line 2"):
        read_definition(path)


@pytest.mark.django_db
def test_the_bundled_instrument_is_loaded_by_migrate():
    instrument = Instrument.objects.get(code="alliance-check", version=1)
    assert instrument.items.count() == 11


@pytest.mark.django_db
def test_the_command_loads_a_new_version_and_refuses_changed_content(valid, tmp_path, capsys):
    data = copy.deepcopy(valid)
    bundled = len(bundled_definitions())  # v1, v2, ...: the next version is new
    data["version"] = bundled + 1
    path = tmp_path / "next.json"
    path.write_text(json.dumps(data))
    call_command("load_instrument", str(path))
    assert Instrument.objects.filter(code="alliance-check", version=bundled + 1).exists()
    call_command("load_instrument", str(path))  # same content again: a no-op
    assert Instrument.objects.filter(code="alliance-check").count() == bundled + 1
    data["name"] = "Changed"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="new version number"):
        call_command("load_instrument", str(path))


@pytest.mark.django_db
def test_the_command_refuses_a_malformed_file(valid, tmp_path):
    data = copy.deepcopy(valid)
    data["items"][0]["kind"] = "slider"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CommandError, match="refused: bad.json: item 'goals_focus': 'kind' must be one of"):
        call_command("load_instrument", str(path))
    assert not Instrument.objects.filter(version__gt=len(bundled_definitions())).exists()
