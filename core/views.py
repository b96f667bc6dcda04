"""The account pages: home, the sections still to come, API tokens."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import crypto, selectors, services
from core.navigation import SECTIONS_BY_SLUG


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


def section(request: HttpRequest, slug: str) -> HttpResponse:
    """A capability whose issue has not landed yet: say what it will do instead of a dead link."""
    found = SECTIONS_BY_SLUG.get(slug)
    if found is None:
        raise Http404("No such section.")
    if found.staff_only and not request.user.is_staff:
        raise PermissionDenied("This section is for staff only.")
    return render(request, "core/section.html", {"section": found})


# The secret of a token just created, between the POST and the page that shows it once (POST-redirect-GET).
# Encrypted, so a plain token is never at rest in the session store either.
NEW_TOKEN_SESSION_KEY = "core.new_api_token"


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    new_secret = None
    if request.method == "POST":
        try:
            created = services.api_token_create(
                user=request.user, name=request.POST.get("name", ""), ip=client_ip(request)
            )
        except services.TokenError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Token “{created.token.name}” created. Copy it now: it is shown only once.")
            if getattr(request, "auth_method", "session") == "token":
                new_secret = created.secret  # a script has no session to come back with: answer at once
            else:
                # Redirect, so that a reload of the page that shows the secret cannot create a second token.
                request.session[NEW_TOKEN_SESSION_KEY] = crypto.encrypt(created.secret)
                return redirect("tokens")
    elif NEW_TOKEN_SESSION_KEY in request.session:
        try:
            new_secret = crypto.decrypt(request.session.pop(NEW_TOKEN_SESSION_KEY))
        except crypto.DecryptionError:
            new_secret = None  # the keys changed in between: the token exists, its secret is gone
    response = render(
        request,
        "core/tokens.html",
        {"tokens": selectors.api_token_list(user=request.user), "new_secret": new_secret},
        status=201 if new_secret and request.method == "POST" else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a plain token
    return response


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = selectors.api_token_get(user=request.user, pk=pk)
    services.api_token_revoke(token=token, by=request.user, ip=client_ip(request))
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("tokens")
