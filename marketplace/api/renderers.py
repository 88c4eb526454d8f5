"""The API's JSON renderer: DRF's, except that odd stored data (a lone surrogate, NaN) is rendered as
U+FFFD or null instead of answering 500 (marketplace.safe_output). The scrub runs only when DRF's own
encoding fails."""

from rest_framework import renderers

from marketplace.safe_output import scrub_json


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except (UnicodeEncodeError, ValueError):
            return super().render(scrub_json(data), accepted_media_type, renderer_context)
