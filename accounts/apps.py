from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Learner accounts"

    def ready(self):
        from accounts.backends import user_changed

        post_save.connect(user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_cache")
        post_delete.connect(user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_cache_delete")
