from django.core.management.base import BaseCommand

from core import crypto
from llm.models import Backend


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of ORCH_ENCRYPTION_KEYS. Put the new key first, "
        "keep the old one after it, run this, then drop the old key."
    )

    def handle(self, *args, **options) -> None:
        rotated = 0
        for backend in Backend.objects.exclude(api_key_encrypted=""):
            if crypto.needs_rotation(backend.api_key_encrypted):
                backend.api_key = backend.api_key  # decrypt with the old key, encrypt with the new
                backend.save(update_fields=["api_key_encrypted"])
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s) with key {crypto.key_id(crypto.keys()[0])}.")
