"""Learner pages for organisation links: an organisation's enrolment sync found
the learner's existing account, and only the learner may let it see their records.

Each view parses, calls one selector or service, and renders. A link addressed
to someone else is a 404, for GET and POST alike.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from curriculum.models import Course
from lms import selectors, services
from lms.models import LinkRequest


class LinkListView(LoginRequiredMixin, TemplateView):
    """/accounts/links/: the organisations that asked to link the learner's account."""

    template_name = "lms/link_list.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "links": selectors.link_request_list(learner=self.request.user)}


class LinkDetailView(LoginRequiredMixin, TemplateView):
    """One request: what confirming shares, and the confirm and decline buttons (POST)."""

    template_name = "lms/link_detail.html"

    def _link(self) -> LinkRequest:
        try:
            return selectors.link_request_get(learner=self.request.user, pk=self.kwargs["pk"])
        except LinkRequest.DoesNotExist:
            raise Http404("No such link request.") from None

    def get_context_data(self, **kwargs):
        link = self._link()
        courses = Course.objects.filter(slug__in=list(link.courses)).only("title").order_by("title")
        return {**super().get_context_data(**kwargs), "link": link, "courses": courses}

    def post(self, request, pk: int):
        link = self._link()  # 404 before reading the form: someone else's link stays unknown
        decision = request.POST.get("decision")
        if decision not in {"confirm", "decline"}:
            messages.error(request, "Choose Confirm or Decline.")
            return redirect("lms_links:link_detail", pk=link.pk)
        try:
            link = services.link_request_decide(learner=request.user, link_id=link.pk, confirm=decision == "confirm")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("lms_links:link_detail", pk=link.pk)
        if link.status == LinkRequest.Status.CONFIRMED:
            messages.success(request, f"{link.organisation.name} can now see your records for the courses it enrolled you in.")
        else:
            messages.success(request, f"Declined: {link.organisation.name} sees nothing of your account.")
        return redirect("lms_links:link_list")
