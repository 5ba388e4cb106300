from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import services
from .forms import ProfileForm
from .models import User
from .throttle import attempts_exceeded, reauth_attempts_exceeded

TOO_MANY = "Too many attempts. Wait a minute and try again."


class _ThrottledPostMixin:
    """Refuse a POST over the attempt limit with 429 and the form's own page."""

    throttle_group = ""
    throttle_account_field = ""

    def post(self, request, *args, **kwargs):
        if attempts_exceeded(
            request, group=self.throttle_group, account_field=self.throttle_account_field
        ):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class ThrottledLoginView(_ThrottledPostMixin, auth_views.LoginView):
    redirect_authenticated_user = True
    throttle_group = "login"
    throttle_account_field = "username"


class ThrottledPasswordResetView(_ThrottledPostMixin, auth_views.PasswordResetView):
    throttle_group = "reset"
    throttle_account_field = "email"


class NotifyingPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, then a notice to the account's address (ASVS V2.2.3)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        services.send_security_notice(form.user, "password_changed")
        return response


class NotifyingPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset confirmation, then a notice to the account's address (ASVS V2.2.3)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        services.send_security_notice(form.user, "password_changed")
        return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    # A copy for the form: validating a ModelForm writes into its instance, and the signed-in
    # user must not show a change that was refused.
    form = ProfileForm(request.POST or None, instance=User.objects.get(pk=request.user.pk))
    if request.method == "POST" and form.is_valid():
        if reauth_attempts_exceeded(request):
            form.add_error("current_password", TOO_MANY)
            return render(request, "accounts/profile.html", {"form": form}, status=429)
        try:
            services.update_profile(request.user, **form.cleaned_data)
        except services.ReauthenticationError as exc:
            form.add_error(exc.field, str(exc))
            return render(request, "accounts/profile.html", {"form": form}, status=400)
        messages.success(request, "Your profile was saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
