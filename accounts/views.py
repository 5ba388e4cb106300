from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import services
from .forms import ProfileForm
from .throttle import attempts_exceeded

TOO_MANY = "Too many attempts. Wait a minute and try again."


class ThrottledLoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if attempts_exceeded(request, group="login", account_field="username"):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    def post(self, request, *args, **kwargs):
        if attempts_exceeded(request, group="reset", account_field="email"):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, TOO_MANY)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(request.user, **form.cleaned_data)
        messages.success(request, "Your profile was saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form})
