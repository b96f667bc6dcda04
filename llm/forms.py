from django import forms

from llm.models import Backend


class BackendForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")
    base_url = forms.URLField(
        assume_scheme="http", help_text="The OpenAI-compatible root, e.g. http://127.0.0.1:1234/v1"
    )

    class Meta:
        model = Backend
        fields = ["name", "base_url", "kind", "weight", "max_concurrency", "enabled",
                  "connect_timeout_s", "first_token_timeout_s", "idle_timeout_s"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "input")

    def api_key_value(self) -> str | None:
        if self.cleaned_data.get("clear_api_key"):
            return ""
        return self.cleaned_data.get("api_key") or None
