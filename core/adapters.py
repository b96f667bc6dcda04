from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        """Sign-up is open unless ORCH_SIGNUP_OPEN=false (then the admin creates accounts)."""
        return settings.ORCH_SIGNUP_OPEN
