"""The static files storage for DEBUG off: WhiteNoise's hashed and compressed files, without the rewriting of
JavaScript source-map comments."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class CompressedManifestStorage(CompressedManifestStaticFilesStorage):
    """The npm libraries in static/vendor end in `//# sourceMappingURL=….map` for maps that are not copied with
    them, and the manifest storage fails collectstatic on every reference it cannot find. A map is only fetched by a
    browser's developer tools, so those comments are left as they are (CSS `url()`s are still hashed)."""

    patterns = tuple(
        (extension, ()) if extension == "*.js" else (extension, rules)
        for extension, rules in CompressedManifestStaticFilesStorage.patterns
    )
