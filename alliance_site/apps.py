from django.apps import AppConfig


class AllianceSiteConfig(AppConfig):
    """The project itself as an app: no models, only its deployment checks and signal wiring."""

    name = "alliance_site"
    verbose_name = "Alliance site"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401 (registers the deployment checks)
        from .middleware import stamp_staff_session

        user_logged_in.connect(stamp_staff_session, dispatch_uid="alliance_stamp_staff_session")
