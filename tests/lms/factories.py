"""Factories for lms models. Placeholder text only."""

import factory

from lms import services
from lms.models import Enrolment, ExternalLearner, Organisation, Scope
from tests.factories import CourseFactory, UserFactory


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class ExternalLearnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExternalLearner

    organisation = factory.SubFactory(OrganisationFactory)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    user = factory.SubFactory(UserFactory)


class EnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrolment

    learner = factory.SubFactory(ExternalLearnerFactory)
    course = factory.SubFactory(CourseFactory)


def token_for(organisation, scopes=tuple(Scope.values)) -> str:
    """A raw integration token of `organisation` with `scopes` (all by default)."""
    _token, raw = services.integration_token_create(organisation=organisation, name="test", scopes=list(scopes))
    return raw
