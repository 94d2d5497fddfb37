"""Instrument definition files: parsing and validation (no database access).

A definition is a JSON file (see README, "Instrument definition format"). `parse_definition`
either returns the normalised definition or raises `DefinitionError` naming the first problem,
so a clinic loading a licensed instrument learns exactly what to fix.
"""

import json
from pathlib import Path

from .engine.contract import RUPTURE_TYPE_LABELS

BUNDLED_DIR = Path(__file__).resolve().parent / "instruments"
FORMAT_VERSION = 1
KINDS = {"rating", "yes_no", "text", "choice"}
SCORED_SUBSCALES = ("goals", "tasks", "bond")
SUBSCALES = {*SCORED_SUBSCALES, "shared", "rupture", "rupture_type", "note"}
SERIES = ("total", *SCORED_SUBSCALES)


class DefinitionError(ValueError):
    pass


def _require(condition, message):
    if not condition:
        raise DefinitionError(message)


def _check_texts(where, texts, languages, kind, options=()):
    _require(isinstance(texts, dict), f"{where}: 'text' must be an object keyed by language")
    for language in languages:
        _require(language in texts, f"{where}: no text for language {language!r}")
        entry = texts[language]
        _require(isinstance(entry, dict), f"{where}: text.{language} must be an object")
        _require(
            isinstance(entry.get("prompt"), str) and entry["prompt"].strip(),
            f"{where}: text.{language}.prompt is missing",
        )
        if kind == "choice":
            labels = entry.get("options")
            _require(
                isinstance(labels, dict)
                and all(isinstance(labels.get(code), str) and labels[code].strip() for code in options),
                f"{where}: text.{language}.options must give a label for each of {', '.join(options)}",
            )
        if kind == "rating":
            for end in ("low", "high"):
                _require(
                    isinstance(entry.get(end), str) and entry[end].strip(),
                    f"{where}: text.{language}.{end} (the label of the scale's {end} end) is missing",
                )


def _check_psychometrics(data):
    psychometrics = data.get("psychometrics", {})
    _require(isinstance(psychometrics, dict), "'psychometrics' must be an object")
    for key, low, high in (("reliability", 0, 1), ("spread", 0, 10)):
        values = psychometrics.get(key, {})
        _require(isinstance(values, dict), f"psychometrics.{key} must be an object keyed by series")
        for series, value in values.items():
            _require(series in SERIES, f"psychometrics.{key}: unknown series {series!r} (use {', '.join(SERIES)})")
            _require(
                isinstance(value, (int, float)) and not isinstance(value, bool) and low < value < high,
                f"psychometrics.{key}.{series} must be a number between {low} and {high}, not {value!r}",
            )
    return {"reliability": dict(psychometrics.get("reliability", {})), "spread": dict(psychometrics.get("spread", {}))}


def parse_definition(data):
    """Validate a decoded definition and return it normalised (defaults filled in).

    Raises DefinitionError with a message naming the field at fault.
    """
    _require(isinstance(data, dict), "the definition must be a JSON object")
    _require(data.get("format") == FORMAT_VERSION, f"'format' must be {FORMAT_VERSION}")
    code = data.get("code")
    _require(
        isinstance(code, str) and code and code.replace("-", "").replace("_", "").isalnum() and len(code) <= 60,
        "'code' must be a short slug such as 'alliance-check'",
    )
    version = data.get("version")
    _require(
        isinstance(version, int) and not isinstance(version, bool) and version >= 1,
        "'version' must be a whole number from 1",
    )
    _require(isinstance(data.get("name"), str) and data["name"].strip(), "'name' is missing")
    languages = data.get("languages")
    _require(isinstance(languages, list) and "en" in languages, "'languages' must be a list that includes 'en'")
    items = data.get("items")
    _require(isinstance(items, list) and items, "'items' must be a non-empty list")

    seen = set()
    normalised = []
    for position, raw in enumerate(items, start=1):
        where = f"items[{position - 1}]"
        _require(isinstance(raw, dict), f"{where} must be an object")
        item_code = raw.get("code")
        _require(isinstance(item_code, str) and item_code, f"{where}: 'code' is missing")
        where = f"item {item_code!r}"
        _require(item_code not in seen, f"{where}: code used twice")
        seen.add(item_code)
        kind = raw.get("kind")
        _require(kind in KINDS, f"{where}: 'kind' must be one of {', '.join(sorted(KINDS))}")
        subscale = raw.get("subscale")
        _require(subscale in SUBSCALES, f"{where}: 'subscale' must be one of {', '.join(sorted(SUBSCALES))}")
        scale_min = scale_max = None
        if kind == "rating":
            scale = raw.get("scale")
            _require(
                isinstance(scale, list)
                and len(scale) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in scale),
                f"{where}: a rating needs 'scale': [low, high] as whole numbers",
            )
            scale_min, scale_max = scale
            _require(scale_min < scale_max, f"{where}: the scale's low end must be below its high end")
            _require(scale_min >= -100 and scale_max <= 100, f"{where}: the scale must lie within -100..100")
            _require(
                subscale in {*SCORED_SUBSCALES, "shared"},
                f"{where}: a rating must count towards goals, tasks, bond or shared",
            )
        else:
            _require("scale" not in raw, f"{where}: only rating items take a 'scale'")
        options = raw.get("options", [])
        if kind == "choice":
            _require(
                isinstance(options, list) and len(options) >= 2 and len(set(options)) == len(options)
                and all(isinstance(code, str) and code for code in options),
                f"{where}: a choice needs 'options': a list of at least two different codes",
            )
            _require(
                subscale == "rupture_type" and all(code in RUPTURE_TYPE_LABELS for code in options),
                f"{where}: a choice says what kind of rupture it was (subscale 'rupture_type', "
                f"options from {', '.join(RUPTURE_TYPE_LABELS)})",
            )
        else:
            _require("options" not in raw, f"{where}: only choice items take 'options'")
            _require(subscale != "rupture_type", f"{where}: a rupture_type item must be a choice")
        depends_on = raw.get("depends_on", "")
        if depends_on:
            _require(
                depends_on in seen and depends_on != item_code,
                f"{where}: depends_on {depends_on!r} must name an earlier item",
            )
        audience = raw.get("audience", "all")
        _require(audience in {"all", "multi"}, f"{where}: 'audience' must be 'all' or 'multi'")
        required = raw.get("required", True)
        _require(isinstance(required, bool), f"{where}: 'required' must be true or false")
        reverse = raw.get("reverse", False)
        _require(isinstance(reverse, bool), f"{where}: 'reverse' must be true or false")
        _require(not reverse or kind == "rating", f"{where}: only rating items can be reverse-scored")
        _check_texts(where, raw.get("text"), languages, kind, options)
        normalised.append(
            {
                "code": item_code,
                "position": position,
                "kind": kind,
                "subscale": subscale,
                "scale_min": scale_min,
                "scale_max": scale_max,
                "reverse_scored": reverse,
                "required": required,
                "audience": audience,
                "depends_on": depends_on,
                "texts": raw["text"],
                # only on choice items: a definition loaded before choices existed normalises
                # exactly as it did, so reloading it is still a no-op
                **({"options": list(options)} if kind == "choice" else {}),
            }
        )
    for subscale in SCORED_SUBSCALES:
        _require(
            any(
                item["subscale"] == subscale and item["kind"] == "rating" and item["audience"] == "all"
                for item in normalised
            ),
            f"the instrument needs at least one rating item for {subscale} asked in every case",
        )
    ruptures = [item for item in normalised if item["subscale"] == "rupture"]
    _require(len(ruptures) <= 2, "at most two rupture items: the question and whether it was talked through")
    _require(all(item["kind"] == "yes_no" for item in ruptures), "rupture items must be yes/no questions")
    kinds = [item for item in normalised if item["subscale"] == "rupture_type"]
    _require(len(kinds) <= 1, "at most one rupture_type item")
    _require(
        all(ruptures and item["depends_on"] == ruptures[0]["code"] and not item["required"] for item in kinds),
        "a rupture_type item is optional (required: false) and depends_on the rupture question",
    )
    return {
        "code": code,
        "version": version,
        "name": data["name"].strip(),
        "languages": languages,
        "psychometrics": _check_psychometrics(data),
        "items": normalised,
    }


def read_definition(path):
    """Read and validate a definition file; DefinitionError names the file's problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DefinitionError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}: not UTF-8 text") from exc
    try:
        return parse_definition(data)
    except DefinitionError as exc:
        raise DefinitionError(f"{path.name}: {exc}") from exc


def bundled_definitions():
    return sorted(BUNDLED_DIR.glob("*.json"))
