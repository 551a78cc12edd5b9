from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"

    def ready(self):
        from accounts.identifiers import full_name_check_register
        from credits.services import certificate_name_problem

        # Sign-up and the profile refuse a name the certificate would print blank.
        full_name_check_register(certificate_name_problem)
