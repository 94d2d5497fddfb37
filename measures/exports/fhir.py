"""FHIR R4 export: the instrument as a Questionnaire (Structured Data Capture conventions), each
check as a QuestionnaireResponse, its subscale scores as Observations and the open flags as Flags,
with a minimal Patient per client, in one Bundle of type "collection".

Why "collection": the bundle hands over a set of records for the receiving system to take in as
it sees fit; a "transaction" would instruct its server to create or update each resource (request
method and URL per entry, all or nothing), which presumes write access and an agreement on ids
that an export cannot assume. Entries are linked by urn:uuid full URLs derived from the
deployment's URL and the row id, so exporting the same row again gives the same identity.

No LOINC or SNOMED codes exist for these items: items, subscale scores and the rating answers use
code systems under the deployment's own URL (settings.SITE_URL + "/fhir/CodeSystem/..."), and the
flags another. A client is a Patient with an identifier and the display name the clinic uses,
nothing else: no email, phone or birth date, which the receiving record already has.

Validated with fhir.resources' R4B models (the library has no plain R4 module; R4B changes
nothing used here) before it is handed out: validate_bundle raises on a malformed resource.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..engine.contract import KIND_LABELS, SERIES_LABELS, SEVERITY_ALERT
from ..models import Answer, Instrument, Item, Response, Signal

ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_CODES = "http://hl7.org/fhir/flag-priority-code"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
UCUM = "http://unitsofmeasure.org"
SCORED = ("goals", "tasks", "bond", "shared")
SCORE_LINK = "score-{}"


def site_url():
    return settings.SITE_URL.rstrip("/")


def check_system():
    """Items, subscales and the total of the check."""
    return f"{site_url()}/fhir/CodeSystem/alliance-check"


def rating_system():
    """A rating's answers, "0" to "10" (their meaning is the item's own low and high end)."""
    return f"{site_url()}/fhir/CodeSystem/alliance-check-rating"


def flag_system():
    return f"{site_url()}/fhir/CodeSystem/alliance-flag"


def questionnaire_url(instrument):
    return f"{site_url()}/fhir/Questionnaire/{instrument.code}"


def _full_url(resource_type, resource_id):
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{site_url()}/fhir/{resource_type}/{resource_id}')}"


def _ref(resource_type, resource_id):
    return {"reference": _full_url(resource_type, resource_id)}


def _number(value):
    """A stored Decimal as a JSON number (7.50 → 7.5; FHIR decimals keep no trailing zeros here)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _instant(value):
    return timezone.localtime(value, timezone.get_fixed_timezone(0)).isoformat()


# The Questionnaire ---------------------------------------------------------------------------


def _rated(items, subscale):
    return [item for item in items if item.kind == Item.Kind.RATING and item.subscale == subscale]


def _weights_expression(items):
    """FHIRPath: the answered items' weights, each rescaled to 0–10 as measures.scoring does."""
    parts = [
        f"%resource.item.where(linkId='{item.code}').answer.value.weight()"
        f".select(($this - {item.scale_min}) * 10 / {item.scale_max - item.scale_min})"
        for item in items
    ]
    return parts[0] + "".join(f".combine({part})" for part in parts[1:])


def _mean(name):
    return f"(%{name}.aggregate($this + $total, 0) / %{name}.count())"


def _answer_options(item, language):
    texts = item.text(language)
    options = []
    for value in range(item.scale_min, item.scale_max + 1):
        weight = item.score(value)
        display = {
            item.scale_min: f"{value} – {texts.get('low', '')}",
            item.scale_max: f"{value} – {texts.get('high', '')}",
        }
        options.append(
            {
                # itemWeight is the current (SDC, R5) name; ordinalValue what plain R4 readers know.
                "extension": [{"url": ITEM_WEIGHT, "valueDecimal": weight}],
                "valueCoding": {
                    "extension": [{"url": ORDINAL_VALUE, "valueDecimal": weight}],
                    "system": rating_system(),
                    "code": str(value),
                    "display": display.get(value, str(value)).rstrip(" –"),
                },
            }
        )
    return options


def _question(item, language):
    codes = [{"system": check_system(), "code": item.code}]
    if item.kind == Item.Kind.RATING and item.subscale in SCORED:
        codes.append(
            {"system": check_system(), "code": item.subscale, "display": SERIES_LABELS.get(item.subscale, "Shared")}
        )
    question = {
        "linkId": item.code,
        "code": codes,
        "text": item.text(language)["prompt"],
        # Couple and family items are asked only in those cases, so they cannot be required of all.
        "required": item.required and item.audience == Item.Audience.ALL and item.kind != Item.Kind.TEXT,
    }
    if item.kind == Item.Kind.RATING:
        question.update(type="choice", answerOption=_answer_options(item, language))
    elif item.kind == Item.Kind.YES_NO:
        question["type"] = "boolean"
    else:
        question.update(type="text", maxLength=2000)
    if item.depends_on:
        question["enableWhen"] = [{"question": item.depends_on, "operator": "=", "answerBoolean": True}]
    return question


def questionnaire(instrument, items, *, language="en"):
    """The instrument version as an SDC Questionnaire: each rating's options carry their scores
    (reverse-scored items flipped), and the subscales and total are calculated items whose
    FHIRPath repeats measures.scoring: mean of the answered items rescaled to 0–10, total = mean
    of goals, tasks and bond, rounded to two places."""
    subscales = [name for name in SCORED if _rated(items, name)]
    variables = [
        {
            "url": VARIABLE,
            "valueExpression": {
                "name": name,
                "language": "text/fhirpath",
                "expression": _weights_expression(_rated(items, name)),
            },
        }
        for name in subscales
    ]
    calculated = {name: f"{_mean(name)}.round(2)" for name in subscales}
    calculated["total"] = f"(({_mean('goals')} + {_mean('tasks')} + {_mean('bond')}) / 3).round(2)"
    score_items = [
        {
            "extension": [
                {"url": CALCULATED, "valueExpression": {"language": "text/fhirpath", "expression": calculated[name]}}
            ],
            "linkId": SCORE_LINK.format(name),
            "code": [{"system": check_system(), "code": name, "display": SERIES_LABELS.get(name, "Shared")}],
            "text": f"{SERIES_LABELS.get(name, 'Shared')} score (0–10)",
            "type": "decimal",
            "readOnly": True,
        }
        for name in [*subscales, "total"]
        if name != "shared" or "shared" in subscales
    ]
    return {
        "resourceType": "Questionnaire",
        "id": f"{instrument.code}-v{instrument.version}",
        "extension": variables,
        "url": questionnaire_url(instrument),
        "version": str(instrument.version),
        "name": "".join(part.capitalize() for part in instrument.code.replace("_", "-").split("-")),
        "title": instrument.name,
        "status": "active",
        "subjectType": ["Patient"],
        "language": language,
        "code": [{"system": check_system(), "code": instrument.code, "display": instrument.name}],
        "item": [_question(item, language) for item in items] + score_items,
    }


# Responses, scores, flags, clients ------------------------------------------------------------


def _patient(participant):
    identifiers = [{"system": f"{site_url()}/fhir/sid/client", "value": str(participant.pk)}]
    if participant.client_ref:
        identifiers.append({"system": f"{site_url()}/fhir/sid/client-ref", "value": participant.client_ref})
    return {
        "resourceType": "Patient",
        "id": f"client-{participant.pk}",
        "identifier": identifiers,
        "active": participant.is_active,
        "name": [{"text": participant.display_name}],
    }


def _answer(answer):
    item = answer.item
    if item.kind == Item.Kind.RATING:
        return {"valueCoding": {"system": rating_system(), "code": str(answer.value)}}
    if item.kind == Item.Kind.YES_NO:
        return {"valueBoolean": bool(answer.value)}
    return {"valueString": answer.text}


def _scores(response):
    values = {name: getattr(response, name) for name in ("goals", "tasks", "bond", "shared", "total")}
    return {name: value for name, value in values.items() if value is not None}


def questionnaire_response(response, answers):
    """One check: its answers as given (ratings by their option code) and its stored scores."""
    patient = _ref("Patient", f"client-{response.participant_id}")
    items = [{"linkId": a.item.code, "answer": [_answer(a)]} for a in sorted(answers, key=lambda a: a.item.position)]
    items += [
        {"linkId": SCORE_LINK.format(name), "answer": [{"valueDecimal": _number(value)}]}
        for name, value in _scores(response).items()
    ]
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"response-{response.pk}",
        "identifier": {"system": f"{site_url()}/fhir/sid/response", "value": str(response.pk)},
        "questionnaire": f"{questionnaire_url(response.instrument)}|{response.instrument.version}",
        "status": "completed",
        "subject": patient,
        "authored": _instant(response.submitted_at),
        "source": patient,
        "item": items,
    }


def observations(response):
    """The stored subscale scores (and total) of one check, each an Observation derived from it."""
    return [
        {
            "resourceType": "Observation",
            "id": f"response-{response.pk}-{name}",
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
            "code": {
                "coding": [{"system": check_system(), "code": name, "display": SERIES_LABELS.get(name, "Shared")}],
                "text": f"{response.instrument.name}: {SERIES_LABELS.get(name, 'Shared').lower()} (0–10)",
            },
            "subject": _ref("Patient", f"client-{response.participant_id}"),
            "effectiveDateTime": _instant(response.session.scheduled_start),
            "issued": _instant(response.submitted_at),
            "valueQuantity": {"value": _number(value), "unit": "score", "system": UCUM, "code": "{score}"},
            "derivedFrom": [_ref("QuestionnaireResponse", f"response-{response.pk}")],
        }
        for name, value in _scores(response).items()
    ]


def flag(signal):
    """An open flag: what the engine found, about whom, since when, and how urgent."""
    return {
        "resourceType": "Flag",
        "id": f"flag-{signal.pk}",
        "extension": [
            {
                "url": FLAG_PRIORITY,
                "valueCodeableConcept": {
                    "coding": [
                        {"system": FLAG_PRIORITY_CODES, "code": "PH", "display": "High priority"}
                        if signal.severity == SEVERITY_ALERT
                        else {"system": FLAG_PRIORITY_CODES, "code": "PM", "display": "Medium priority"}
                    ]
                },
            }
        ],
        "status": "active",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "clinical", "display": "Clinical"}]}],
        "code": {
            "coding": [
                {"system": flag_system(), "code": signal.kind, "display": KIND_LABELS.get(signal.kind, signal.kind)}
            ],
            "text": signal.message,
        },
        "subject": _ref("Patient", f"client-{signal.participant_id}"),
        "period": {"start": _instant(signal.opened_at)},
    }


def _entry(resource):
    return {"fullUrl": _full_url(resource["resourceType"], resource["id"]), "resource": resource}


def build_bundle(scope, *, now=None):
    """The scope's checks, scores and open warning/alert flags as one collection Bundle (a dict).
    Returns (bundle, resource count). Five queries whatever the scope's size."""
    now = now or timezone.now()
    responses = list(
        Response.objects.filter(scope.sessions_q("session"))
        .select_related("session", "participant", "instrument")
        .order_by("session__case_id", "session__scheduled_start", "participant_id")
    )
    answers = {}
    for answer in Answer.objects.filter(scope.answers_q()).select_related("item"):
        answers.setdefault(answer.response_id, []).append(answer)
    signals = list(
        Signal.objects.filter(scope.flags_q())
        .open()
        .exclude(severity=Signal.Severity.INFO)
        .select_related("participant")
        .order_by("case_id", "opened_at", "pk")
    )
    used = {response.instrument_id for response in responses}
    instruments = Instrument.objects.filter(Q(pk__in=used) | Q(code=scope.clinic.instrument_code)).prefetch_related(
        "items"
    )
    latest = max(
        (i for i in instruments if i.code == scope.clinic.instrument_code), key=lambda i: i.version, default=None
    )
    entries = [_entry(questionnaire(i, list(i.items.all()))) for i in instruments if i.pk in used or i is latest]
    participants = {r.participant_id: r.participant for r in responses}
    participants.update({s.participant_id: s.participant for s in signals})
    entries += [_entry(_patient(participants[pk])) for pk in sorted(participants)]
    for response in responses:
        entries.append(_entry(questionnaire_response(response, answers.get(response.pk, []))))
        entries += [_entry(observation) for observation in observations(response)]
    entries += [_entry(flag(signal)) for signal in signals]
    bundle = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": _instant(now)},
        "type": "collection",
        "timestamp": _instant(now),
        "entry": entries,
    }
    return bundle, len(entries)


def validate_bundle(bundle):
    """Parse the bundle, and so every resource in it, with fhir.resources' R4B models; raises
    pydantic's ValidationError on anything malformed."""
    # Imported here: building the library's models takes a moment that every other process can skip.
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)
