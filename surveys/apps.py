from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Client surveys"

    def ready(self):
        from measures.models import Instrument

        from .questions import forget_everything, instrument_saved

        # What surveys/questions.py remembers: a new version is asked for, a flushed database forgotten.
        post_save.connect(instrument_saved, sender=Instrument, dispatch_uid="surveys-instrument-saved")
        post_migrate.connect(forget_everything, dispatch_uid="surveys-forget-questions")
