"""Races on PostgreSQL: the same launch posted twice at once signs in once; two
first launches of one platform user at once create one account."""

import threading
from http import HTTPStatus

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from lms.lti.models import LtiUser, ResourceLink


def _together(*calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _prepared_launch(platform, *, sub, course, link_id="rl-1"):
    client = Client()
    auth = client.get(platform.login_url(sub=sub))
    form = platform.resource_launch(auth["Location"], sub=sub, custom={"course": course.slug}, link_id=link_id)
    return client, form


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_launch_posted_twice_at_once_is_accepted_once(platform, registered, course):
    client, form = _prepared_launch(platform, sub="lms-user-1", course=course)
    other = Client()
    other.cookies = client.cookies
    fields = {"id_token": form["id_token"], "state": form["state"]}

    codes = _together(lambda: client.post(form["launch_url"], fields).status_code,
                      lambda: other.post(form["launch_url"], fields).status_code)

    assert sorted(codes) == [HTTPStatus.FOUND, HTTPStatus.FORBIDDEN]
    assert User.objects.count() == LtiUser.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_launches_of_one_user_create_one_account(platform, registered, course):
    first, first_form = _prepared_launch(platform, sub="lms-user-1", course=course)
    second, second_form = _prepared_launch(platform, sub="lms-user-1", course=course)

    codes = _together(
        lambda: first.post(first_form["launch_url"], {"id_token": first_form["id_token"],
                                                      "state": first_form["state"]}).status_code,
        lambda: second.post(second_form["launch_url"], {"id_token": second_form["id_token"],
                                                        "state": second_form["state"]}).status_code,
    )

    assert codes == [HTTPStatus.FOUND, HTTPStatus.FOUND]
    assert User.objects.count() == LtiUser.objects.count() == ResourceLink.objects.count() == 1
