"""Sign-up and profile pages; log-in, log-out and password reset are Django's, answering 400 to a form
with errors."""

from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, UpdateView

from accounts import throttling
from accounts.backends import BACKEND_PATH
from accounts.forms import ProfileForm, SignUpForm


class InvalidFormIs400:
    """A form sent back with its errors answers 400, as the learner's other forms do (attempt,
    evaluation, claim): the page says what is wrong, and the status tells scripts and monitors
    that nothing was done. (The admin's forms are Django's, and answer 200.)"""

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=HTTPStatus.BAD_REQUEST)


class LoginView(InvalidFormIs400, auth_views.LoginView):
    pass


class PasswordResetView(InvalidFormIs400, auth_views.PasswordResetView):
    """Django's, with two limits per hour, so the form cannot be used to flood a clinician's
    inbox or to send mail in bulk from this site:

    - per e-mail address (ACCOUNTS_RESET_PER_ADDRESS_HOURLY): past it, no e-mail goes out, and
      the page is the same "check your e-mail" page as for a sent one, so the limit tells
      nobody whether the address has an account;
    - per client address (ACCOUNTS_RESET_PER_CLIENT_HOURLY, read through the trusted proxies):
      past it, the form again with a 429 that says so.
    """

    TOO_MANY = "Too many password reset requests from your network in the last hour. Try again later."

    def form_valid(self, form):
        if throttling.over_limit("reset-client", throttling.client_ip(self.request),
                                 settings.ACCOUNTS_RESET_PER_CLIENT_HOURLY, 3600):
            form.add_error(None, self.TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=HTTPStatus.TOO_MANY_REQUESTS)
        email = form.cleaned_data["email"].strip().lower()
        if throttling.over_limit("reset-email", email, settings.ACCOUNTS_RESET_PER_ADDRESS_HOURLY, 3600):
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(InvalidFormIs400, auth_views.PasswordResetConfirmView):
    pass


class SignUpView(InvalidFormIs400, FormView):
    """Sign-up, with attempts limited per client address (ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY, read
    through the trusted proxies): every attempt counts, valid or not, since the form's "already
    registered" error would otherwise let a script test addresses by the thousand. Past the
    limit the form comes back empty with a 429 that says so, before any validation, so the
    refusal reveals nothing about the address sent."""

    template_name = "accounts/user_signup.html"
    form_class = SignUpForm
    TOO_MANY = ("Too many sign-up attempts from your network in the last hour. Try again later, "
                "or ask your organisation's course administrator for help.")

    def dispatch(self, request, *args, **kwargs):
        # A signed-in learner has an account already: go where they were heading.
        if request.user.is_authenticated:
            return redirect(self._next_url())
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        if throttling.over_limit("signup-client", throttling.client_ip(request),
                                 settings.ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY, 3600):
            context = self.get_context_data(form=self.get_form_class()(), limit_message=self.TOO_MANY)
            return self.render_to_response(context, status=HTTPStatus.TOO_MANY_REQUESTS)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend=BACKEND_PATH)
        messages.success(self.request, "Welcome! Your account is ready.")
        return redirect(self._next_url())

    def _next_url(self) -> str:
        """`?next=` when it points into this site (never an open redirect), else the catalogue."""
        target = self.request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return target
        return reverse_lazy("curriculum:catalogue")


class ProfileView(LoginRequiredMixin, InvalidFormIs400, UpdateView):
    template_name = "accounts/user_profile.html"
    form_class = ProfileForm
    success_url = reverse_lazy("accounts:profile")

    def get_object(self, queryset=None):
        return self.request.user

    def form_valid(self, form):
        messages.success(self.request, "Your profile was saved.")
        return super().form_valid(form)
