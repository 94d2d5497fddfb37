"""Write a clinic's monthly report as one standalone HTML file (stylesheet inlined, charts as SVG):

    python manage.py clinic_report --clinic ID --month 2026-11 --output report.html

The same report as /reports/clinic/?month=2026-11 shows an admin. The file is created readable by
its owner only (it holds clinic figures and therapists' names; --anonymise leaves the names out).
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Clinic
from dashboard.reports import parse_month, render_clinic_report


class Command(BaseCommand):
    help = "Write a clinic's monthly report (print-styled HTML) to a file."

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="the clinic's id or slug")
        parser.add_argument("--month", required=True, help="the month, YYYY-MM")
        parser.add_argument("--output", required=True, help="the HTML file to write")
        parser.add_argument("--anonymise", action="store_true", help="therapists as Therapist A, B…")

    def handle(self, *args, clinic, month, output, anonymise, **options):
        if parse_month(month) is None:
            raise CommandError(f"--month {month!r} is not a month (YYYY-MM)")
        found = Clinic.objects.filter(pk=int(clinic)) if clinic.isdigit() else Clinic.objects.filter(slug=clinic)
        found = found.first()
        if found is None:
            raise CommandError(f"no clinic {clinic!r}")
        html = render_clinic_report(found, month, anonymise=anonymise, standalone=True)
        path = Path(output)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(html)
        self.stdout.write(f"Wrote the {month} report of {found.name} to {path}")
