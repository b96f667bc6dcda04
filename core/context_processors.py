from django.http import HttpRequest

from core.navigation import sections_for


def shell(request: HttpRequest) -> dict:
    """What every page's shell needs: the navigation for this user and the active section."""
    user = getattr(request, "user", None)
    path = request.path
    sections = sections_for(user) if user is not None and user.is_authenticated else []
    active = next((s.slug for s in sections if path.startswith(s.path)), "")
    return {"nav_sections": sections, "nav_active": active}
