from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MeasuresConfig(AppConfig):
    name = "measures"
    verbose_name = "Measures and signals"

    def ready(self):
        from .signals import load_bundled_instruments

        post_migrate.connect(load_bundled_instruments, sender=self, dispatch_uid="measures-load-instruments")
