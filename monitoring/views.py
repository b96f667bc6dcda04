from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.navigation import SECTIONS_BY_SLUG


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "core/section.html", {"section": SECTIONS_BY_SLUG["monitoring"]})
