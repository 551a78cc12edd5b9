"""API v1 for credit: completion status, evaluation, claim, certificates, verification, feed.

Learners (session) see and write their own: every write calls the service
the credit pages call (`credits.services.evaluation_submit`, `claim_create`),
so claim-time checks are credits' (field problems are a 400 with `fields`;
a refused claim is a 409 `already_claimed` or `claim_refused`, base.py).
Verification is public and shows only what the certificate itself shows.
Integration tokens with `completions:read` see the certificates of their
organisation's learners only (anyone else's is a 404), as a cursor feed
ordered by `updated_at` (issue, or revocation when later), paged by
`lms.selectors.CertificateFeedQuery`.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.throttling import client_ip
from credits import selectors as credit_selectors
from credits import services as credit_services
from credits.models import Certificate, CreditType, Evaluation, credit_line
from lms import selectors as lms_selectors
from lms.api.v1.base import ApiPolicy, FeedCursorPagination
from lms.api.v1.views import FeedListMixin, FeedQuerySerializer
from lms.models import ExternalLearner, Organisation, Scope

# secrets.token_urlsafe(16) makes 22 characters of this alphabet (credits.views
# checks the same); anything else is a 404 before the database is asked.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
MAX_DB_INT = 2**31 - 1


class CertificateStatus:
    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    CHOICES = [VALID, REVOKED, SUPERSEDED]


def certificate_status(certificate: Certificate) -> str:
    """valid, revoked, or superseded (reissued: the old one is revoked too). No query with
    `revocation` and `superseded_by` selected, as every credits selector here does."""
    if getattr(certificate, "superseded_by", None) is not None:
        return CertificateStatus.SUPERSEDED
    if getattr(certificate, "revocation", None) is not None:
        return CertificateStatus.REVOKED
    return CertificateStatus.VALID


def verify_url(request, code: str) -> str:
    path = reverse("credits:certificate_verify", args=[code])
    return settings.CREDITS_PUBLIC_URL + path if settings.CREDITS_PUBLIC_URL else request.build_absolute_uri(path)


# --- the organisation's certificates (token reads) ----------------------------------------


def organisation_certificates(*, organisation: Organisation | None) -> QuerySet[Certificate]:
    """Certificates of the organisation's learners, each with `external_id` and `updated_at`
    (the revocation time if revoked, else the issue time). One query per page."""
    identity = ExternalLearner.objects.filter(organisation=organisation, user=OuterRef("claim__learner"))
    return (
        Certificate.objects.filter(Exists(identity))
        .annotate(
            external_id=Subquery(identity.values("external_id")[:1]),
            updated_at=Coalesce("revocation__revoked_at", "issued_at"),
        )
        .select_related("claim", "revocation", "superseded_by")
    )


# --- serializers --------------------------------------------------------------------------


class CertificateSerializer(serializers.Serializer):
    """What a certificate shows, and its status. Verification shows exactly this."""

    learner_name = serializers.CharField()
    profession = serializers.CharField()
    activity_title = serializers.CharField()
    completed_on = serializers.DateField()
    credit_type = serializers.ChoiceField(choices=CreditType.choices)
    credit_line = serializers.CharField(help_text="The amount and credit as printed.")
    amount = serializers.DecimalField(max_digits=5, decimal_places=2)
    uan = serializers.CharField(allow_blank=True, help_text="ACPE Universal Activity Number, if any.")
    designation_statement = serializers.CharField(allow_blank=True)
    accreditation_statement = serializers.CharField()
    provider_name = serializers.CharField()
    provider_address = serializers.CharField()
    issued_at = serializers.DateTimeField()
    validity = serializers.SerializerMethodField(
        help_text="valid; revoked; or superseded (reissued, e.g. with a corrected name)."
    )

    @extend_schema_field(serializers.ChoiceField(choices=CertificateStatus.CHOICES))
    def get_validity(self, certificate) -> str:
        return certificate_status(certificate)


class MyCertificateSerializer(CertificateSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField(help_text="The verification code, the learner's to share.")
    verify_url = serializers.SerializerMethodField()

    def get_verify_url(self, certificate) -> str:
        return verify_url(self.context["request"], certificate.code)


class CertificateFeedRowSerializer(CertificateSerializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(help_text="Your ID for the learner.")
    code = serializers.CharField()
    hours = serializers.DecimalField(source="claim.hours", max_digits=5, decimal_places=2)
    claimed_at = serializers.DateTimeField(source="claim.attested_at")
    revoked_at = serializers.DateTimeField(source="revocation.revoked_at", allow_null=True, default=None)
    updated_at = serializers.DateTimeField(help_text="Issue time, or revocation time once revoked; the feed's order.")


def certificate_feed_rows(page: list[dict]) -> list[dict]:
    """A certificate feed page (`lms.selectors.CertificateFeedQuery` rows) as
    CertificateFeedRowSerializer(many=True) gives it for the certificates: the
    same keys in the same order and the same strings.

    Fifty certificates of about twenty fields through DRF's fields, from model
    instances of four tables, cost about 10 ms a page (issue #8); this reads
    plain values, whose times and amounts the database already wrote as the
    API writes them. tests/lms/test_api_credits.py checks it against the serializer,
    which stays the schema's description.
    """
    rows = []
    for row in page:
        if row["superseded"]:
            validity = CertificateStatus.SUPERSEDED
        elif row["revocation__revoked_at"] is not None:
            validity = CertificateStatus.REVOKED
        else:
            validity = CertificateStatus.VALID
        amount = row["amount"]
        rows.append({
            "learner_name": row["learner_name"],
            "profession": row["profession"],
            "activity_title": row["activity_title"],
            "completed_on": row["completed_on"],
            "credit_type": row["credit_type"],
            "credit_line": credit_line(
                credit_type=row["credit_type"], amount=amount, credit_label=row["credit_label"]
            ),
            "amount": amount,
            "uan": row["uan"],
            "designation_statement": row["designation_statement"],
            "accreditation_statement": row["accreditation_statement"],
            "provider_name": row["provider_name"],
            "provider_address": row["provider_address"],
            "issued_at": row["issued_at"],
            "validity": validity,
            "id": row["pk"],
            "external_id": row["external_id"],
            "code": row["code"],
            "hours": row["claim__hours"],
            "claimed_at": row["claim__attested_at"],
            "revoked_at": row["revocation__revoked_at"],
            "updated_at": row["updated_at"],
        })
    return rows


# --- the learner: completion, evaluation, claim -----------------------------------------------


class RuleSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=["lessons", "posttest", "evaluation"])
    label = serializers.CharField()
    met = serializers.BooleanField()
    met_at = serializers.DateTimeField(allow_null=True)


class CompletionStatusApi(ApiPolicy, APIView):
    """What the signed-in learner has done towards credit for a course, and what remains."""

    session_allowed = True

    class OutputSerializer(serializers.Serializer):
        course = serializers.SlugField()
        complete = serializers.BooleanField()
        completed_on = serializers.DateField(allow_null=True)
        rules = RuleSerializer(many=True)
        remaining = serializers.ListField(child=serializers.CharField(), help_text="Unmet rules, in plain words.")
        evaluation_submitted = serializers.BooleanField()
        claimed = serializers.BooleanField()
        credit_types = serializers.ListField(
            child=serializers.CharField(), help_text="The credit types offered (values of credit_type)."
        )

    @extend_schema(responses=OutputSerializer, operation_id="completion_retrieve")
    def get(self, request, course_slug: str) -> Response:
        activity = credit_selectors.activity_get(course_slug=course_slug)  # two queries
        completion = credit_selectors.completion_get(activity=activity, learner=request.user)  # three
        claim = credit_selectors.claim_current_get(activity=activity, learner=request.user)  # one
        view = {
            "course": course_slug,
            "complete": completion.complete,
            "completed_on": completion.completed_on,
            "rules": completion.rules,
            "remaining": completion.missing,
            "evaluation_submitted": completion.evaluation_submitted,
            "claimed": claim is not None,
            "credit_types": [d.credit_type for d in activity.offered],
        }
        return Response(self.OutputSerializer(view).data)


class RatingInputSerializer(serializers.Serializer):
    objective = serializers.CharField(max_length=40, help_text="The objective's key, as in the course detail.")
    rating = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (not met) to 5 (fully met).")


class EvaluationSubmitApi(ApiPolicy, APIView):
    """Submit the activity evaluation once; a repeat returns the first (200)."""

    session_allowed = True

    class InputSerializer(serializers.Serializer):
        ratings = RatingInputSerializer(many=True, max_length=200, help_text="One per learning objective.")
        practice_change = serializers.ChoiceField(choices=Evaluation.PracticeChange.choices)
        practice_change_detail = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
        perceived_bias = serializers.BooleanField()
        bias_detail = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
        comments = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        course = serializers.SlugField(source="activity.course.slug")
        submitted_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OpenApiResponse(OutputSerializer, description="Stored."),
            200: OpenApiResponse(OutputSerializer, description="Already submitted: the first one stands."),
        },
        operation_id="evaluation_submit",
    )
    def post(self, request, course_slug: str) -> Response:
        data = self.validate_input(request)
        activity = credit_selectors.activity_get(course_slug=course_slug)
        by_key = {o.key: o.pk for o in credit_selectors.evaluation_objectives(activity=activity)}
        unknown = sorted({r["objective"] for r in data["ratings"]} - set(by_key))
        if unknown:
            raise exceptions.ValidationError({"ratings": [f"Not an objective of this course: {', '.join(unknown)}."]})
        before = timezone.now()
        try:
            evaluation = credit_services.evaluation_submit(
                learner=request.user,
                activity=activity,
                ratings={by_key[r["objective"]]: r["rating"] for r in data["ratings"]},
                practice_change=data["practice_change"],
                practice_change_detail=data["practice_change_detail"],
                perceived_bias=data["perceived_bias"],
                bias_detail=data["bias_detail"],
                comments=data["comments"],
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"ratings": exc.messages}) from None
        evaluation.activity = activity
        created = evaluation.submitted_at >= before
        return Response(
            self.OutputSerializer(evaluation).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ClaimCreateApi(ApiPolicy, APIView):
    """Claim credit once, attesting the hours spent; returns the certificate issued."""

    session_allowed = True

    class InputSerializer(serializers.Serializer):
        credit_type = serializers.ChoiceField(choices=CreditType.choices)
        hours = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, help_text="Time actually spent.")
        attested = serializers.BooleanField(help_text="The learner confirms the hours are the time actually spent.")
        full_name = serializers.CharField(max_length=200, help_text="As it should appear on the certificate.")
        given_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        family_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        npi = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
        nabp_eprofile_id = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
        birth_month = serializers.IntegerField(min_value=1, max_value=12, required=False, allow_null=True, default=None)
        birth_day = serializers.IntegerField(min_value=1, max_value=31, required=False, allow_null=True, default=None)
        licence_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
        licence_state = serializers.CharField(max_length=2, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={201: OpenApiResponse(MyCertificateSerializer, description="The certificate issued.")},
        operation_id="claim_create",
    )
    def post(self, request, course_slug: str) -> Response:
        data = self.validate_input(request)
        activity = credit_selectors.activity_get(course_slug=course_slug)
        certificate = credit_services.claim_create(
            learner=request.user, activity_id=activity.pk, data=credit_services.ClaimInput(**data)
        )
        body = MyCertificateSerializer(certificate, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- certificates -----------------------------------------------------------------------------


class MyCertificateViewSet(ApiPolicy, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The signed-in learner's certificates, newest first, and one of them; anyone else's is a 404."""

    session_allowed = True
    serializer_class = MyCertificateSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Certificate.objects.none()
        return credit_selectors.transcript_list(learner=self.request.user)  # one query

    def get_object(self):
        pk = self.kwargs["pk"]
        if not (str(pk).isascii() and str(pk).isdigit()) or int(pk) > MAX_DB_INT:
            raise Certificate.DoesNotExist
        return credit_selectors.certificate_for_learner_get(pk=int(pk), learner=self.request.user)  # one query


class VerifyRateThrottle(SimpleRateThrottle):
    """Per client address: the public endpoint has no token or learner to count by.

    Codes carry 128 random bits, so this is about load, not guessing.
    """

    scope = "lms_verify"

    def get_rate(self) -> str:
        return getattr(settings, "LMS_API_VERIFY_RATE", "120/min")

    def get_cache_key(self, request, view) -> str:
        return f"throttle_lms_verify_{client_ip(request)}"


class CertificateVerifyApi(ApiPolicy, APIView):
    """Public: confirm a certificate by its code. Shows only what the certificate shows."""

    authentication_classes = []  # anyone holding the code (printed as a QR code on the certificate)
    permission_classes = [AllowAny]
    throttle_classes = [VerifyRateThrottle]

    @extend_schema(responses=CertificateSerializer, auth=[], operation_id="certificate_verify")
    def get(self, request, code: str) -> Response:
        if not CODE_PATTERN.fullmatch(code):
            raise Certificate.DoesNotExist
        certificate = credit_selectors.certificate_by_code_get(code=code)  # one query
        return Response(CertificateSerializer(certificate).data)


class CertificateFeedPagination(FeedCursorPagination):
    ordering = ("updated_at", "pk")


class CertificateFeedViewSet(
    ApiPolicy, FeedListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Certificates (claims of credit) of your learners, oldest change first; `updated_since`
    filters on updated_at, so a revocation shows up again."""

    required_scope = Scope.COMPLETIONS_READ
    serializer_class = CertificateFeedRowSerializer
    pagination_class = CertificateFeedPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return organisation_certificates(organisation=None).none()
        organisation = self.organisation()
        if self.action != "list":
            return organisation_certificates(organisation=organisation)
        query = self._feed_input()
        return lms_selectors.CertificateFeedQuery(
            organisation_id=organisation.pk, updated_since=query.get("updated_since")
        )

    def get_object(self):
        pk = self.kwargs["pk"]
        if not (str(pk).isascii() and str(pk).isdigit()) or int(pk) > MAX_DB_INT:
            raise Certificate.DoesNotExist
        return self.get_queryset().get(pk=int(pk))

    @extend_schema(parameters=[FeedQuerySerializer])
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(certificate_feed_rows(page))
