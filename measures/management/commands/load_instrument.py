from django.core.management.base import BaseCommand, CommandError

from measures.actions.instruments import do_load_instrument
from measures.definitions import DefinitionError, read_definition


class Command(BaseCommand):
    help = "Validate an instrument definition file and load it (see README: Instrument definition format)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a definition file (JSON)")
        parser.add_argument("--check", action="store_true", help="validate only; load nothing")

    def handle(self, path, check, **options):
        try:
            definition = read_definition(path)
            if check:
                self.stdout.write(
                    f"{definition['code']} v{definition['version']}: valid, {len(definition['items'])} items"
                )
                return
            instrument, created = do_load_instrument(definition)
        except DefinitionError as exc:
            raise CommandError(f"refused: {exc}") from exc
        verb = "loaded" if created else "already loaded"
        self.stdout.write(
            self.style.SUCCESS(f"{instrument.code} v{instrument.version} {verb} ({instrument.items.count()} items)")
        )
