from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from lms import checks  # noqa: F401  (registers the deploy checks)
        from lms.models import IntegrationToken, Organisation
        from lms.token_cache import organisation_changed, token_changed

        # A token's cached copy follows its row and its organisation's (lms/token_cache.py).
        for name, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(token_changed, sender=IntegrationToken, dispatch_uid=f"lms.token_cache.token_{name}")
            signal.connect(organisation_changed, sender=Organisation, dispatch_uid=f"lms.token_cache.org_{name}")
