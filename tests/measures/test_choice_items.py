"""The definition format's `choice` kind (the kind of rupture) and the versioned instrument."""

import copy
import json

import pytest

from measures.definitions import DefinitionError, bundled_definitions, parse_definition
from measures.models import Instrument

V2 = next(path for path in bundled_definitions() if path.name == "alliance-check.v2.json")


@pytest.fixture
def data():
    return json.loads(V2.read_text())


def kind_item(data):
    return next(item for item in data["items"] if item.get("kind") == "choice")


def test_version_2_adds_the_optional_kind_after_the_rupture_question_and_keeps_version_1(data):
    definition = parse_definition(data)
    (item,) = [i for i in definition["items"] if i["kind"] == "choice"]
    assert item["subscale"] == "rupture_type" and item["depends_on"] == "rupture" and not item["required"]
    assert item["options"] == ["withdrawal", "confrontation"]
    v1 = json.loads(next(p for p in bundled_definitions() if p.name == "alliance-check.v1.json").read_text())
    assert [i for i in data["items"] if i.get("kind") != "choice"] == v1["items"]  # only the new item
    assert "options" not in parse_definition(v1)["items"][0]  # v1 normalises as it always did


@pytest.mark.django_db
def test_both_versions_are_loaded_and_a_clinic_gets_the_latest(therapist):
    assert set(Instrument.objects.filter(code="alliance-check").values_list("version", flat=True)) == {1, 2}
    instrument = Instrument.objects.for_clinic(therapist.clinic)
    assert instrument.version == 2
    assert instrument.items.get(code="rupture_kind").options == ["withdrawal", "confrontation"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i: i.update(options=["withdrawal"]), "at least two different codes"),
        (lambda i: i.update(options=["withdrawal", "anger"]), "options from withdrawal, confrontation"),
        (lambda i: i.update(subscale="note"), "subscale 'rupture_type'"),
        (lambda i: i["text"]["es"]["options"].pop("confrontation"), "text.es.options must give a label"),
        (lambda i: i.update(required=True), "optional (required: false) and depends_on the rupture question"),
        (lambda i: i.pop("depends_on"), "depends_on the rupture question"),
        (lambda i: i.update(kind="yes_no", options=None) or i.pop("options"), "must be a choice"),
    ],
    ids=["one-option", "unknown-option", "other-subscale", "missing-label", "required", "no-parent", "not-a-choice"],
)
def test_a_malformed_choice_is_refused_with_a_message_naming_the_problem(data, change, message):
    broken = copy.deepcopy(data)
    change(kind_item(broken))
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_definition(broken)


def test_only_a_choice_takes_options(data):
    broken = copy.deepcopy(data)
    broken["items"][0]["options"] = ["withdrawal", "confrontation"]
    with pytest.raises(DefinitionError, match="only choice items take 'options'"):
        parse_definition(broken)
