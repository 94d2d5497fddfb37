"""The questions a survey asks, remembered by each web process: every survey page needs them, and
reading them was two of a submission's nine statements (issue 14).

Two facts are remembered, each the way it can change:
- an instrument version's items, under the version's id: a version's items never change (a
  changed questionnaire is a new version, measures.actions.instruments), so they are kept as long
  as the process lives;
- which version is the latest of an instrument code: a new version can be loaded at any time, by
  another process. This process forgets it when it saves an Instrument itself (on commit), and any
  process looks again after LATEST_SECONDS. Offering the previous version a few seconds longer is
  what a client who opened the page a little earlier sees anyway: the previous version stays
  loaded and its answers are stored against its own items.

Only rows read outside a transaction are remembered: those are committed, so a rolled-back load
(a test's transaction, a failed command) can never leave a version here that the database does not
hold. A flush of the database (post_migrate) forgets everything.
"""

import time

from django.db import connection, transaction

from measures.models import Instrument, Item

LATEST_SECONDS = 10.0

_clock = time.monotonic
_latest = {}  # instrument code → (Instrument, monotonic time it is good until)
_items = {}  # instrument id → (items for every case, items for individual cases), in order


def survey_items(clinic, case):
    """The items a participant of `case` is asked, in order: a new list of the clinic's latest
    instrument version's items (as Instrument.objects.for_clinic(clinic).items.for_case(case)).
    Raises Instrument.DoesNotExist if the clinic's instrument is not loaded."""
    instrument = _latest_instrument(clinic)
    cached = _items.get(instrument.pk)
    if cached is None:
        everyone = list(instrument.items.all())  # each item's .instrument is this instrument: no query
        cached = (everyone, [item for item in everyone if item.audience == Item.Audience.ALL])
        if not connection.in_atomic_block:
            _items[instrument.pk] = cached
    return list(cached[0] if case.is_multi_person else cached[1])


def _latest_instrument(clinic):
    code = clinic.instrument_code
    remembered = _latest.get(code)
    if remembered is not None and _clock() < remembered[1]:
        return remembered[0]
    instrument = Instrument.objects.for_clinic(clinic)
    if not connection.in_atomic_block:
        _latest[code] = (instrument, _clock() + LATEST_SECONDS)
    return instrument


def forget_latest_versions():
    _latest.clear()


def forget_everything(**kwargs):
    _latest.clear()
    _items.clear()


def instrument_saved(sender, using=None, **kwargs):
    """post_save of an Instrument (surveys/apps.py): the next request asks which version is the
    latest; again once the save has committed, as a request meanwhile still read the previous one."""
    forget_latest_versions()
    transaction.on_commit(forget_latest_versions, using=using)
