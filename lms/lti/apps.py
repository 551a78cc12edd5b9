from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "lms.lti"
    label = "lti"
    verbose_name = "LTI 1.3"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Grade passback goes through the outbox's destination registry: fan-out
        # and send live in lms/lti/ags.py, claiming, retries and dead letters in lms/outbox.py.
        from lms.lti import ags
        from lms.outbox import destination_register

        destination_register(kind=ags.KIND, fanout=ags.outbox_fanout, send=ags.outbox_send)
