from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings

from core.services import login_lockout_record


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        """Sign-up is open unless ORCH_SIGNUP_OPEN=false (then the admin creates accounts)."""
        return settings.ORCH_SIGNUP_OPEN

    def pre_authenticate(self, request, **credentials) -> None:
        """allauth's failed-login limits (per IP and per login name; the admin's login comes here too), with
        each lockout in the audit log. While locked out even the right password is refused."""
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError:
            login = credentials.get("email") or credentials.get("username") or ""
            login_lockout_record(login=str(login), ip=self.get_client_ip(request))
            raise
