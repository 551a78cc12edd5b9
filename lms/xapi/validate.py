"""Our own check of a statement against xAPI 1.0.3's rules (Data, section 2.4).

Ralph, the LRS the tests run against, accepts much the spec forbids, and a
stricter LRS at a customer would then reject our statements with a 400 that
no test of ours had seen. So every statement we build is checked here too:
`statement_problems()` lists each broken rule as "path: problem", empty when
the statement is valid. Pure; the tests call it on every statement they send.

It checks what we emit (Agents, Activities) strictly and stays silent on
parts of the spec we never produce (Groups, SubStatements, attachments
beyond their presence).
"""

from __future__ import annotations

import datetime as dt
import re

TOP_LEVEL = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
             "version", "attachments"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
CONTEXT_ACTIVITY_KEYS = {"parent", "grouping", "category", "other"}
CONTEXT_KEYS = {"registration", "instructor", "team", "contextActivities", "revision", "platform",
                "language", "statement", "extensions"}
RESULT_KEYS = {"score", "success", "completion", "response", "duration", "extensions"}
SCORE_KEYS = {"scaled", "raw", "min", "max"}
DEFINITION_KEYS = {"name", "description", "type", "moreInfo", "extensions", "interactionType",
                   "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}
INTERACTION_TYPES = {"true-false", "choice", "fill-in", "long-fill-in", "matching", "performance",
                     "sequencing", "likert", "numeric", "other"}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
# An IRI: a scheme, a colon, and no whitespace or characters RFC 3987 excludes.
IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
# RFC 5646 language tag, simplified to its common shape (en, en-US, zh-Hant-TW).
LANG_RE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
DURATION_RE = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)
TIMESTAMP_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
)


def is_iri(value) -> bool:
    return isinstance(value, str) and bool(IRI_RE.match(value))


def is_duration(value) -> bool:
    return isinstance(value, str) and bool(DURATION_RE.match(value))


def is_timestamp(value) -> bool:
    """ISO 8601 date and time with a zone (the spec: SHOULD; we: always)."""
    if not isinstance(value, str) or not TIMESTAMP_RE.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _language_map(value, path: str, problems: list[str], *, required: bool = False) -> None:
    if not isinstance(value, dict) or (required and not value):
        problems.append(f"{path}: must be a non-empty language map")
        return
    for tag, text in value.items():
        if not LANG_RE.match(tag):
            problems.append(f"{path}: {tag!r} is not an RFC 5646 language tag")
        if not isinstance(text, str):
            problems.append(f"{path}.{tag}: must be a string")


def _extensions(value, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: must be an object")
        return
    for key in value:
        if not is_iri(key):
            problems.append(f"{path}: key {key!r} is not an IRI")


def _unknown(value: dict, allowed: set[str], path: str, problems: list[str]) -> None:
    for key in sorted(set(value) - allowed):
        problems.append(f"{path}: unknown property {key!r}")


def _agent(agent, path: str, problems: list[str]) -> None:
    if not isinstance(agent, dict):
        problems.append(f"{path}: must be an object")
        return
    if agent.get("objectType", "Agent") not in {"Agent", "Group"}:
        problems.append(f"{path}.objectType: must be Agent or Group")
    ifis = [key for key in IFIS if key in agent]
    if agent.get("objectType") != "Group" and len(ifis) != 1:
        problems.append(f"{path}: must have exactly one inverse functional identifier, has {ifis or 'none'}")
    if "mbox" in agent and not (isinstance(agent["mbox"], str) and agent["mbox"].startswith("mailto:")):
        problems.append(f"{path}.mbox: must be a mailto: IRI")
    if "openid" in agent and not is_iri(agent["openid"]):
        problems.append(f"{path}.openid: must be an IRI")
    if "account" in agent:
        account = agent["account"]
        if not isinstance(account, dict) or set(account) != {"homePage", "name"}:
            problems.append(f"{path}.account: must have exactly homePage and name")
        else:
            if not is_iri(account["homePage"]):
                problems.append(f"{path}.account.homePage: must be an IRL")
            if not isinstance(account["name"], str) or not account["name"]:
                problems.append(f"{path}.account.name: must be a non-empty string")
    if "name" in agent and not isinstance(agent["name"], str):
        problems.append(f"{path}.name: must be a string")


def _activity(activity, path: str, problems: list[str]) -> None:
    if not isinstance(activity, dict):
        problems.append(f"{path}: must be an object")
        return
    if activity.get("objectType", "Activity") != "Activity":
        problems.append(f"{path}.objectType: must be Activity")
    if not is_iri(activity.get("id")):
        problems.append(f"{path}.id: must be an IRI")
    _unknown(activity, {"objectType", "id", "definition"}, path, problems)
    definition = activity.get("definition")
    if definition is None:
        return
    if not isinstance(definition, dict):
        problems.append(f"{path}.definition: must be an object")
        return
    _unknown(definition, DEFINITION_KEYS, f"{path}.definition", problems)
    for key in ("name", "description"):
        if key in definition:
            _language_map(definition[key], f"{path}.definition.{key}", problems)
    for key in ("type", "moreInfo"):
        if key in definition and not is_iri(definition[key]):
            problems.append(f"{path}.definition.{key}: must be an IRI")
    if "extensions" in definition:
        _extensions(definition["extensions"], f"{path}.definition.extensions", problems)
    interaction = definition.get("interactionType")
    if interaction is not None and interaction not in INTERACTION_TYPES:
        problems.append(f"{path}.definition.interactionType: {interaction!r} is not an interaction type")
    for key in ("choices", "scale", "source", "target", "steps"):
        if key in definition:
            components = definition[key]
            if interaction is None:
                problems.append(f"{path}.definition.{key}: only with an interactionType")
            if not isinstance(components, list):
                problems.append(f"{path}.definition.{key}: must be an array")
                continue
            ids = [c.get("id") if isinstance(c, dict) else None for c in components]
            if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
                problems.append(f"{path}.definition.{key}: components need unique string ids")
            for n, component in enumerate(components):
                if isinstance(component, dict) and "description" in component:
                    _language_map(component["description"], f"{path}.definition.{key}[{n}].description", problems)
    if "correctResponsesPattern" in definition and not (
        isinstance(definition["correctResponsesPattern"], list)
        and all(isinstance(p, str) for p in definition["correctResponsesPattern"])
    ):
        problems.append(f"{path}.definition.correctResponsesPattern: must be an array of strings")


def _score(score, path: str, problems: list[str]) -> None:
    if not isinstance(score, dict):
        problems.append(f"{path}: must be an object")
        return
    _unknown(score, SCORE_KEYS, path, problems)
    for key in SCORE_KEYS & set(score):
        if not _number(score[key]):
            problems.append(f"{path}.{key}: must be a number")
    if _number(score.get("scaled")) and not -1 <= score["scaled"] <= 1:
        problems.append(f"{path}.scaled: must be between -1 and 1, is {score['scaled']}")
    low, high, raw = score.get("min"), score.get("max"), score.get("raw")
    if _number(low) and _number(high) and not low < high:
        problems.append(f"{path}: min must be less than max")
    if _number(raw) and _number(low) and raw < low:
        problems.append(f"{path}.raw: must not be below min")
    if _number(raw) and _number(high) and raw > high:
        problems.append(f"{path}.raw: must not be above max")


def _result(result, path: str, problems: list[str]) -> None:
    if not isinstance(result, dict):
        problems.append(f"{path}: must be an object")
        return
    _unknown(result, RESULT_KEYS, path, problems)
    if "score" in result:
        _score(result["score"], f"{path}.score", problems)
    for key in ("success", "completion"):
        if key in result and not isinstance(result[key], bool):
            problems.append(f"{path}.{key}: must be true or false")
    if "response" in result and not isinstance(result["response"], str):
        problems.append(f"{path}.response: must be a string")
    if "duration" in result and not is_duration(result["duration"]):
        problems.append(f"{path}.duration: {result['duration']!r} is not an ISO 8601 duration")
    if "extensions" in result:
        _extensions(result["extensions"], f"{path}.extensions", problems)


def _context(context, statement: dict, path: str, problems: list[str]) -> None:
    if not isinstance(context, dict):
        problems.append(f"{path}: must be an object")
        return
    _unknown(context, CONTEXT_KEYS, path, problems)
    if "registration" in context and not (
        isinstance(context["registration"], str) and UUID_RE.match(context["registration"])
    ):
        problems.append(f"{path}.registration: must be a UUID")
    object_is_activity = isinstance(statement.get("object"), dict) and statement["object"].get(
        "objectType", "Activity"
    ) == "Activity"
    for key in ("revision", "platform"):
        if key in context:
            if not isinstance(context[key], str):
                problems.append(f"{path}.{key}: must be a string")
            if not object_is_activity:
                problems.append(f"{path}.{key}: only when the object is an Activity")
    if "language" in context and not (isinstance(context["language"], str) and LANG_RE.match(context["language"])):
        problems.append(f"{path}.language: must be an RFC 5646 language tag")
    if "instructor" in context:
        _agent(context["instructor"], f"{path}.instructor", problems)
    if "extensions" in context:
        _extensions(context["extensions"], f"{path}.extensions", problems)
    activities = context.get("contextActivities")
    if activities is None:
        return
    if not isinstance(activities, dict):
        problems.append(f"{path}.contextActivities: must be an object")
        return
    for key, value in activities.items():
        where = f"{path}.contextActivities.{key}"
        if key not in CONTEXT_ACTIVITY_KEYS:
            problems.append(f"{where}: must be one of {sorted(CONTEXT_ACTIVITY_KEYS)}")
        # 1.0.3 lets a sender give one object, but says an LRS returns arrays: we always send arrays.
        if not isinstance(value, list):
            problems.append(f"{where}: must be an array of activities")
            continue
        for n, activity in enumerate(value):
            _activity(activity, f"{where}[{n}]", problems)


def statement_problems(statement) -> list[str]:
    """Every xAPI 1.0.3 rule the statement breaks, as 'path: problem'; [] if none."""
    if not isinstance(statement, dict):
        return ["statement: must be a JSON object"]
    problems: list[str] = []
    _unknown(statement, TOP_LEVEL, "statement", problems)
    for key in ("actor", "verb", "object"):
        if key not in statement:
            problems.append(f"statement: {key} is required")
    if "id" in statement and not (isinstance(statement["id"], str) and UUID_RE.match(statement["id"])):
        problems.append("id: must be a UUID")
    if "actor" in statement:
        _agent(statement["actor"], "actor", problems)
    verb = statement.get("verb")
    if verb is not None:
        if not isinstance(verb, dict):
            problems.append("verb: must be an object")
        else:
            _unknown(verb, {"id", "display"}, "verb", problems)
            if not is_iri(verb.get("id")):
                problems.append("verb.id: must be an IRI")
            _language_map(verb.get("display"), "verb.display", problems, required=True)
    if "object" in statement:
        _activity(statement["object"], "object", problems)
    if "result" in statement:
        _result(statement["result"], "result", problems)
    if "context" in statement:
        _context(statement["context"], statement, "context", problems)
    if "timestamp" in statement and not is_timestamp(statement["timestamp"]):
        problems.append(f"timestamp: {statement['timestamp']!r} is not ISO 8601 with a time zone")
    if "version" in statement and not (isinstance(statement["version"], str)
                                       and re.match(r"^1\.0(\.\d+)?$", statement["version"])):
        problems.append("version: must be 1.0.x")
    return problems
