"""The access log's table, and the triggers that make it append-only in the database itself."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# PostgreSQL: any UPDATE or DELETE of a row is refused, whoever runs it (TRUNCATE, which only
# the table's owner may run, is how the test suite empties tables between tests).
POSTGRES_FORWARD = """
CREATE FUNCTION audit_accessevent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_accessevent is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_accessevent_append_only
    BEFORE UPDATE OR DELETE ON audit_accessevent
    FOR EACH ROW EXECUTE FUNCTION audit_accessevent_refuse_change();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS audit_accessevent_append_only ON audit_accessevent;
DROP FUNCTION IF EXISTS audit_accessevent_refuse_change();
"""
# SQLite (the embedded development default): UPDATE is refused; DELETE stays possible because
# SQLite has no TRUNCATE and the test suite's flush between tests is a DELETE.
SQLITE_FORWARD = """
CREATE TRIGGER audit_accessevent_no_update BEFORE UPDATE ON audit_accessevent
BEGIN
    SELECT RAISE(ABORT, 'audit_accessevent is append-only: UPDATE refused');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS audit_accessevent_no_update;"


def _run(statements):
    def run(apps, schema_editor):
        sql = statements.get(schema_editor.connection.vendor)
        if sql:  # another database gets no trigger: the model's own refusals still hold
            schema_editor.execute(sql, params=None)  # None: the "%" in the message is no placeholder

    return run


add_triggers = _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD})
drop_triggers = _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD})


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_user_last_digest_on'),
        ('sessions_app', '0004_case_import'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AccessEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('route', models.CharField(max_length=100)),
                ('target', models.CharField(blank=True, max_length=300)),
                ('action', models.CharField(choices=[('read', 'Read'), ('change', 'Change'), ('export', 'Export')], max_length=10)),
                ('outcome', models.CharField(choices=[('allowed', 'Allowed'), ('denied', 'Denied')], max_length=10)),
                ('status_code', models.PositiveSmallIntegerField()),
                ('address', models.CharField(blank=True, max_length=45)),
                ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='sessions_app.case')),
                ('clinic', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.clinic')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(fields=['clinic', '-at'], name='audit_clinic_at'), models.Index(fields=['clinic', 'user', '-at'], name='audit_clinic_user_at'), models.Index(fields=['case', '-at'], name='audit_case_at')],
            },
        ),
        migrations.RunPython(add_triggers, drop_triggers),
    ]
