import os

from django.core.management.base import BaseCommand

from core.services import admin_ensure


class Command(BaseCommand):
    help = "Create the first admin when there is none (ORCH_ADMIN_USERNAME / ORCH_ADMIN_PASSWORD)."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("ORCH_ADMIN_USERNAME", "admin")
        user, generated = admin_ensure(
            username=username,
            email=os.environ.get("ORCH_ADMIN_EMAIL", ""),
            password=os.environ.get("ORCH_ADMIN_PASSWORD"),
        )
        if user is None:
            return
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created the first admin: username {username!r}, password {generated!r}\n"
                    "  This password is shown only once. Change it after logging in."
                )
            )
        else:
            self.stdout.write(f"Created the first admin {username!r} with ORCH_ADMIN_PASSWORD.")
