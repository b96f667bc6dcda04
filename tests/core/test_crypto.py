"""Secrets at rest: AES-256-GCM, tamper-evident, rotatable keys."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.management import call_command

from core import crypto
from llm.models import Backend


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_round_trip_and_no_plaintext_in_the_ciphertext():
    sealed = crypto.encrypt("sk-secret-value")
    assert sealed.startswith("v1:") and "sk-secret-value" not in sealed
    assert crypto.decrypt(sealed) == "sk-secret-value"
    assert crypto.encrypt("sk-secret-value") != sealed  # a fresh nonce every time


def test_tampering_is_detected():
    sealed = crypto.encrypt("abc")
    prefix, kid, body = sealed.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(crypto.DecryptionError, match="integrity"):
        crypto.decrypt(f"{prefix}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}")


def test_a_removed_key_gives_a_clear_error(monkeypatch):
    old = new_key()
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", old)
    sealed = crypto.encrypt("abc")
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", new_key())
    with pytest.raises(crypto.DecryptionError, match="not in ORCH_ENCRYPTION_KEYS"):
        crypto.decrypt(sealed)


def test_bad_keys_are_refused(monkeypatch):
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.encrypt("abc")


@pytest.mark.django_db
def test_rotation_re_encrypts_stored_keys_with_the_new_key(monkeypatch, capsys):
    old, new = new_key(), new_key()
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", old)
    backend = Backend(name="b", base_url="http://h:1/v1")
    backend.api_key = "sk-rotate-me"
    backend.save()
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", f"{new},{old}")
    assert crypto.needs_rotation(Backend.objects.get().api_key_encrypted)
    call_command("rotate_secrets")
    assert "Re-encrypted 1 secret(s)" in capsys.readouterr().out
    monkeypatch.setenv("ORCH_ENCRYPTION_KEYS", new)  # the old key is gone now
    assert Backend.objects.get().api_key == "sk-rotate-me"
