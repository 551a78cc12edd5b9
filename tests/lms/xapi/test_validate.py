"""validate.py catches each rule of xAPI 1.0.3 that Ralph would let through."""

import copy

import pytest

from lms.xapi.validate import statement_problems

VALID = {
    "id": "6f1f6f7a-9d35-5b0c-8c5e-0c5b5b1b0a11",
    "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "emp-1"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed"}},
    "object": {
        "objectType": "Activity",
        "id": "https://ce.example.org/courses/c/assessments/posttest/",
        "definition": {"type": "http://adlnet.gov/expapi/activities/assessment", "name": {"en-US": "Post-test"}},
    },
    "result": {"score": {"scaled": 0.8, "raw": 4, "min": 0, "max": 5}, "success": True, "completion": True,
               "duration": "PT4M12.5S"},
    "context": {
        "platform": "kratom-ce", "language": "en-US", "revision": "v2",
        "contextActivities": {"parent": [{"objectType": "Activity", "id": "https://ce.example.org/courses/c/"}]},
        "extensions": {"https://ce.example.org/xapi/extensions/attempt-number": 1},
    },
    "timestamp": "2026-11-25T14:30:01.123Z",
}


def _broken(path: str, value):
    statement = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    target = statement
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return statement


DELETE = object()


def test_the_reference_statement_is_valid():
    assert statement_problems(VALID) == []


@pytest.mark.parametrize(("path", "value", "problem"), [
    ("id", "not-a-uuid", "id: must be a UUID"),
    ("id", "6f1f6f7a9d355b0c8c5e0c5b5b1b0a11", "id: must be a UUID"),  # pragma: allowlist secret
    ("actor.mbox", "mailto:a@example.org", "actor: must have exactly one inverse functional identifier"),
    ("actor.account", DELETE, "actor: must have exactly one inverse functional identifier, has none"),
    ("actor.account", {"homePage": "not an iri", "name": "x"}, "actor.account.homePage: must be an IRL"),
    ("verb.id", "passed", "verb.id: must be an IRI"),
    ("verb.display", DELETE, "verb.display: must be a non-empty language map"),
    ("verb.display", {"en_US": "passed"}, "verb.display: 'en_US' is not an RFC 5646 language tag"),
    ("object.id", "posttest", "object.id: must be an IRI"),
    ("object.definition.type", "assessment", "object.definition.type: must be an IRI"),
    ("result.score.scaled", 1.5, "result.score.scaled: must be between -1 and 1"),
    ("result.score.raw", 6, "result.score.raw: must not be above max"),
    ("result.score.raw", -1, "result.score.raw: must not be below min"),
    ("result.score.min", 5, "result.score: min must be less than max"),
    ("result.success", "yes", "result.success: must be true or false"),
    ("result.duration", "252 seconds", "result.duration: '252 seconds' is not an ISO 8601 duration"),
    ("result.duration", "PT", "result.duration: 'PT' is not an ISO 8601 duration"),
    ("timestamp", "2026-11-25T14:30:01", "timestamp: '2026-11-25T14:30:01' is not ISO 8601 with a time zone"),
    ("timestamp", "25/11/2026", "timestamp: '25/11/2026' is not ISO 8601 with a time zone"),
    ("context.contextActivities.parent", {"id": "https://ce.example.org/courses/c/"},
     "context.contextActivities.parent: must be an array of activities"),
    ("context.contextActivities.sibling", [], "context.contextActivities.sibling: must be one of"),
    ("context.extensions", {"attempt": 1}, "context.extensions: key 'attempt' is not an IRI"),
    ("context.language", "en_US", "context.language: must be an RFC 5646 language tag"),
    ("score", {"raw": 1}, "statement: unknown property 'score'"),
    ("verb", DELETE, "statement: verb is required"),
])
def test_each_broken_rule_is_reported(path, value, problem):
    problems = statement_problems(_broken(path, value))
    assert any(p.startswith(problem) for p in problems), problems


def test_choice_components_need_unique_ids():
    statement = _broken("object.definition.interactionType", "choice")
    statement["object"]["definition"]["choices"] = [
        {"id": "a", "description": {"en-US": "A"}}, {"id": "a", "description": {"en-US": "B"}},
    ]
    assert statement_problems(statement) == ["object.definition.choices: components need unique string ids"]


def test_lrs_assigned_properties_are_allowed():
    statement = {**VALID, "stored": "2026-11-25T14:30:02Z", "version": "1.0.3",
                 "authority": {"objectType": "Agent", "account": {"homePage": "https://l.example", "name": "lms"}}}
    assert statement_problems(statement) == []
