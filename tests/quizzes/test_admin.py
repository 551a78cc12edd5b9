"""The admin pages for the question bank, quizzes and attempts load, and versions are read-only."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from quizzes import services
from quizzes.models import ItemVersion
from tests.factories import UserFactory
from tests.quizzes.factories import quiz_with_items


@pytest.fixture
def admin_client_(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["item", "itemversion", "quiz", "attempt"])
def test_changelist_and_change_pages_load(admin_client_, learner, model):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    objects = {"item": ItemVersion.objects.first().item, "itemversion": ItemVersion.objects.first(),
               "quiz": quiz, "attempt": attempt}
    assert admin_client_.get(reverse(f"admin:quizzes_{model}_changelist")).status_code == HTTPStatus.OK
    change = admin_client_.get(reverse(f"admin:quizzes_{model}_change", args=[objects[model].pk]))
    assert change.status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_item_versions_cannot_be_edited_in_the_admin(admin_client_):
    quiz_with_items(1)
    version = ItemVersion.objects.get()
    url = reverse("admin:quizzes_itemversion_change", args=[version.pk])
    admin_client_.post(url, {"stem_html": "<p>changed</p>"})
    version.refresh_from_db()
    assert version.stem_html != "<p>changed</p>"
