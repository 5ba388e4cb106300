from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.services import ReauthenticationError, confirm_password
from accounts.throttle import reauth_attempts_exceeded
from accounts.views import TOO_MANY

from . import services
from .forms import ApiTokenForm
from .models import ApiToken


def _context(request: HttpRequest, **extra) -> dict:
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "form": ApiTokenForm(),
        "api_base": request.build_absolute_uri("/api/v1/"),
    }
    context.update(extra)
    return context


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "api/tokens.html", _context(request))
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        if reauth_attempts_exceeded(request):
            form.add_error("current_password", TOO_MANY)
            return render(request, "api/tokens.html", _context(request, form=form), status=429)
        try:
            # A token is a credential: issuing one needs the password, like changing it.
            confirm_password(
                request.user, form.cleaned_data["current_password"], to="create a token"
            )
            token, raw = services.create_api_token(request.user, name=form.cleaned_data["name"])
        except ReauthenticationError as exc:
            form.add_error(exc.field, str(exc))
        except services.ApiTokenError as exc:
            form.add_error("name", str(exc))
        else:
            # Rendered, not redirected: the secret is shown this once and stored nowhere.
            return render(
                request, "api/tokens.html", _context(request, new_token=token, new_secret=raw)
            )
    return render(request, "api/tokens.html", _context(request, form=form), status=400)


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, user=request.user, pk=pk)
    try:
        services.revoke_api_token(token)
    except services.ApiTokenError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")
