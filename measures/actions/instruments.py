"""Loading instrument definitions (questionnaires and their items)."""

from django.db import transaction

from ..definitions import DefinitionError, bundled_definitions, read_definition
from ..models import Instrument, Item


@transaction.atomic
def do_load_instrument(definition):
    """Store a validated definition (from measures.definitions). Idempotent for the same content.

    Loading a different definition under a code and version already loaded raises
    DefinitionError: a changed questionnaire needs a new version, so old answers keep their items.
    Run by the operator's commands and after migrate: nobody acts on a clinic's behalf, so no
    acting_user (the Instrument row keeps loaded_at and the definition for audit).
    """
    existing = Instrument.objects.filter(code=definition["code"], version=definition["version"]).first()
    if existing is not None:
        if existing.definition != definition:
            raise DefinitionError(
                f"{definition['code']} version {definition['version']} is already loaded with other content; "
                "give the changed definition a new version number"
            )
        return existing, False
    instrument = Instrument.objects.create(
        code=definition["code"],
        version=definition["version"],
        name=definition["name"],
        psychometrics=definition["psychometrics"],
        definition=definition,
    )
    Item.objects.bulk_create(
        Item(instrument=instrument, **item) for item in definition["items"]
    )
    return instrument, True


def do_load_bundled_instruments():
    """Load every definition shipped in measures/instruments/ (run after each migrate)."""
    return [do_load_instrument(read_definition(path))[0] for path in bundled_definitions()]
