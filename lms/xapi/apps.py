from django.apps import AppConfig


class XapiConfig(AppConfig):
    name = "lms.xapi"
    label = "xapi"
    verbose_name = "xAPI (learning record stores)"

    def ready(self):
        # The outbox delivers to LRSs through its destination registry: fan-out
        # and send live here, claiming and retries in lms/outbox.py.
        from lms.outbox import destination_register
        from lms.xapi import delivery

        destination_register(
            kind=delivery.KIND, fanout=delivery.outbox_fanout, send=delivery.outbox_send,
            paused=delivery.paused_endpoints,
        )
