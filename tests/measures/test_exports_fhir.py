"""The FHIR export: every resource from the demo clinic parses with fhir.resources (R4B), and the
exported Questionnaire's weights score each exported QuestionnaireResponse to the stored scores."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from accounts.models import Clinic
from measures.evaluation import do_evaluate_case
from measures.exports import ExportScope
from measures.exports.fhir import (
    CALCULATED,
    ITEM_WEIGHT,
    ORDINAL_VALUE,
    build_bundle,
    check_system,
    questionnaire,
    validate_bundle,
)
from measures.models import Instrument, Item, Response, Signal
from sessions_app.models import Case
from tests.builders import give_history, make_case, make_response, make_session
from tests.demo import seed_demo

# The codes of the required bindings used (fhir.resources checks structure and types, not codes).
REQUIRED_CODES = {
    "Questionnaire": ("status", {"draft", "active", "retired", "unknown"}),
    "QuestionnaireResponse": ("status", {"in-progress", "completed", "amended", "entered-in-error", "stopped"}),
    "Observation": ("status", {"registered", "preliminary", "final", "amended"}),
    "Flag": ("status", {"active", "inactive", "entered-in-error"}),
    "Patient": ("active", {True, False}),
}
TWO = Decimal("0.01")


def _resources(bundle):
    return [entry["resource"] for entry in bundle["entry"]]


def _weighted_scores(questionnaire_json, response_json):
    """Score a QuestionnaireResponse from the Questionnaire alone, as measures/scoring.py does:
    each rated answer's weight rescaled from its options' range onto 0–10, subscale means of the
    answered items, total the mean of goals, tasks and bond, two places rounded half up."""
    items = {item["linkId"]: item for item in questionnaire_json["item"]}
    parts = {}
    for answered in response_json["item"]:
        question = items[answered["linkId"]]
        coding = answered["answer"][0].get("valueCoding")
        if coding is None or "answerOption" not in question:
            continue
        weights = {}
        for option in question["answerOption"]:
            (weight,) = [e["valueDecimal"] for e in option["extension"] if e["url"] == ITEM_WEIGHT]
            (ordinal,) = [e["valueDecimal"] for e in option["valueCoding"]["extension"] if e["url"] == ORDINAL_VALUE]
            assert weight == ordinal
            weights[option["valueCoding"]["code"]] = Decimal(weight)
        low, high = min(weights.values()), max(weights.values())
        (subscale,) = [c["code"] for c in question["code"][1:] if c["system"] == check_system()]
        parts.setdefault(subscale, []).append((weights[coding["code"]] - low) * 10 / (high - low))
    means = {name: sum(values) / len(values) for name, values in parts.items()}
    means["total"] = (means["goals"] + means["tasks"] + means["bond"]) / 3
    return {name: value.quantize(TWO, rounding=ROUND_HALF_UP) for name, value in means.items()}


@pytest.mark.django_db(transaction=True)
def test_every_resource_of_the_demo_validates_and_scores_to_the_stored_scores():
    seed_demo()
    clinic = Clinic.objects.get(slug="demo")
    bundle, count = build_bundle(ExportScope(clinic))
    validate_bundle(bundle)
    resources = _resources(bundle)
    assert count == len(resources)
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        field, allowed = REQUIRED_CODES.get(resource["resourceType"], (None, None))
        if field:
            assert resource[field] in allowed
    by_type = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    (questionnaire_json,) = by_type["Questionnaire"]
    stored = {str(r.pk): r for r in Response.objects.filter(session__case__clinic=clinic)}
    assert len(by_type["QuestionnaireResponse"]) == len(stored) > 200
    for response_json in by_type["QuestionnaireResponse"]:
        response = stored[response_json["identifier"]["value"]]
        expected = {name: getattr(response, name) for name in ("goals", "tasks", "bond", "total", "shared")}
        assert _weighted_scores(questionnaire_json, response_json) == {
            k: v for k, v in expected.items() if v is not None
        }
    # One Observation per stored score; one Flag per open warning or alert; no contact details.
    assert len(by_type["Observation"]) == sum(4 + (r.shared is not None) for r in stored.values())
    open_flags = Signal.objects.filter(case__clinic=clinic).open().exclude(severity="info")
    assert {f["id"] for f in by_type["Flag"]} == {f"flag-{pk}" for pk in open_flags.values_list("pk", flat=True)}
    assert by_type["Flag"] and all("telecom" not in p and "birthDate" not in p for p in by_type["Patient"])
    text = str(bundle)
    assert "@example.test" not in text
    # A case's own bundle holds that case only.
    case = Case.objects.filter(clinic=clinic, kind="couple").first()
    case_bundle, _ = build_bundle(ExportScope(clinic, case))
    validate_bundle(case_bundle)
    patients = [r for r in _resources(case_bundle) if r["resourceType"] == "Patient"]
    assert sorted(p["id"] for p in patients) == sorted(f"client-{p.pk}" for p in case.participants.all())


def test_validation_refuses_a_malformed_resource():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:x", "resource": {}}]}
    bundle["entry"][0]["resource"] = {
        "resourceType": "Flag",
        "status": "active",
        "code": {"text": "Low alliance"},
        "subject": {"reference": "urn:uuid:y"},
        "period": {"start": "last tuesday"},
    }
    with pytest.raises(ValidationError):
        validate_bundle(bundle)
    bundle["entry"][0]["resource"]["period"]["start"] = "2026-11-03T10:00:00+00:00"
    validate_bundle(bundle)


@pytest.mark.django_db
def test_the_questionnaire_carries_scores_and_calculated_subscales():
    instrument = Instrument.objects.latest_version("alliance-check")
    items = list(instrument.items.all())
    flipped = Item(code="goals_rev", position=99, kind="rating", subscale="goals", scale_min=1, scale_max=5,
                   reverse_scored=True, texts={"en": {"prompt": "Reversed", "low": "No", "high": "Yes"}})  # fmt: skip
    q = questionnaire(instrument, [*items, flipped])
    get_fhir_model_class("Questionnaire").model_validate(q)
    by_link = {item["linkId"]: item for item in q["item"]}
    weights = [o["extension"][0]["valueDecimal"] for o in by_link["goals_rev"]["answerOption"]]
    assert weights == [5, 4, 3, 2, 1]  # reverse-scored: the option's weight is the flipped value
    assert [o["valueCoding"]["code"] for o in by_link["goals_focus"]["answerOption"]] == [str(v) for v in range(11)]
    for name in ("goals", "tasks", "bond", "shared", "total"):
        score = by_link[f"score-{name}"]
        (expression,) = [e["valueExpression"] for e in score["extension"] if e["url"] == CALCULATED]
        assert expression["language"] == "text/fhirpath" and score["readOnly"] is True
    goals = next(e for e in q["extension"] if e["valueExpression"]["name"] == "goals")["valueExpression"]["expression"]
    assert "linkId='goals_rev'" in goals and "($this - 1) * 10 / 4" in goals
    assert by_link["shared_purpose"]["required"] is False  # asked of couples and families only
    assert by_link["rupture_discussed"]["enableWhen"] == [
        {"question": "rupture", "operator": "=", "answerBoolean": True}
    ]


@pytest.mark.django_db
def test_a_date_range_bundle_holds_the_checks_of_those_sessions_and_the_flags_opened_then(therapist):
    case = make_case(therapist)
    participant = give_history(case, [8, 8, 8, 8, 3, 3, 3])
    other = make_case(therapist)
    make_response(make_session(other, days_ago=60), other.participants.first())
    do_evaluate_case(case.pk)
    sessions = list(case.sessions.order_by("scheduled_start"))
    scope = ExportScope(
        therapist.clinic, date_from=sessions[2].scheduled_start.date(), date_to=sessions[4].scheduled_start.date()
    )
    bundle, _ = build_bundle(scope)
    validate_bundle(bundle)
    responses = [r for r in _resources(bundle) if r["resourceType"] == "QuestionnaireResponse"]
    assert len(responses) == 3
    assert {r["subject"]["reference"] for r in responses} == {
        next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["id"] == f"client-{participant.pk}")
    }
    assert not [r for r in _resources(bundle) if r["resourceType"] == "Flag"]  # they opened today
    today = ExportScope(therapist.clinic, case=case)
    flags = [r for r in _resources(build_bundle(today)[0]) if r["resourceType"] == "Flag"]
    assert flags and {f["code"]["coding"][0]["code"] for f in flags} <= {k for k, _ in Signal.Kind.choices}
