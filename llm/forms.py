from django import forms

from llm.models import Backend


class BackendForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")

    class Meta:
        model = Backend
        fields = [
            "name",
            "base_url",
            "kind",
            "weight",
            "max_concurrency",
            "enabled",
            "connect_timeout_s",
            "first_token_timeout_s",
            "idle_timeout_s",
        ]
        labels = {
            "base_url": "Base URL",
            "max_concurrency": "Max concurrency",
            "connect_timeout_s": "Connect timeout (s)",
            "first_token_timeout_s": "First token timeout (s)",
            "idle_timeout_s": "Idle timeout (s)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None or not self.instance.has_api_key:
            # Nothing stored: nothing to remove, and "leave empty to keep" would mislead.
            del self.fields["clear_api_key"]
            self.fields["api_key"].help_text = "Stored encrypted; only sent to this backend's own address."
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "input")

    def clean_base_url(self) -> str:
        from llm.services import backend_validate_url

        return backend_validate_url(self.cleaned_data["base_url"])

    def api_key_value(self) -> str | None:
        if self.cleaned_data.get("clear_api_key"):
            return ""
        return self.cleaned_data.get("api_key") or None
