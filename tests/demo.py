"""The demo clinic for transactional tests, as `manage.py seed_demo` builds it, built once a process.

seed_demo writes forty cases of history and then evaluates each one (1.5–2.5 s); the browser and
calibration tests each start from a flushed database and used to run it again. The first call in
a test process runs the command and keeps every row it left; a later call the same day writes those
rows back, one bulk insert a table, with the same keys (and, on PostgreSQL, the sequences moved past
them), so the test starts from the database the command left.
"""

from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

# post_migrate makes these again after every flush, under keys of their own: never kept or restored.
REMADE = (ContentType, Permission)
_kept = {}  # {day: [(model, rows)]}: the demo is "today" relative, so it is kept for its day only


def _models():
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model not in REMADE
    ]


def seed_demo():
    """The demo clinic in the test database: what `call_command("seed_demo")` leaves there.
    For transactional tests only: in a test's transaction the command's evaluations, queued on
    commit, would never run."""
    if connection.in_atomic_block:
        raise RuntimeError("seed_demo() needs a transactional test: pytest.mark.django_db(transaction=True)")
    today = timezone.localdate()
    if today not in _kept:
        call_command("seed_demo", verbosity=0)
        _kept.clear()
        _kept[today] = [(m, list(m._base_manager.order_by("pk"))) for m in _models() if m._base_manager.exists()]
        return
    rows = _kept[today]
    with transaction.atomic():
        # The first transactional test of a process still holds the migrations' rows: the kept ones replace them.
        present = [m._meta.db_table for m in _models() if m._base_manager.exists()]
        if present:
            connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), present, allow_cascade=True))
        for model, objects in rows:
            model._base_manager.bulk_create(objects)
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [model for model, _objects in rows]):
                cursor.execute(sql)
