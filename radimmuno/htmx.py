"""Helpers for pages that answer a full page or, to an htmx request, just the fragment it targets."""
from django.shortcuts import render


def render_page(request, full_template, fragment_template, context):
    """Render ``full_template`` (which includes ``fragment_template``) or the fragment alone for htmx.

    A boosted navigation is a full-page request in disguise, so it gets the full page.
    """
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted:
        return render(request, fragment_template, context)
    return render(request, full_template, context)
