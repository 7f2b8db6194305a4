"""Response-engine vocabulary on the pages: definition keys as their published names."""
from django import template

from ..compute.response.hpd import _TEXT as _HPD_TEXT
from ..compute.response.patterns import _DEFINITION_TEXT as _DISSOCIATED_TEXT

register = template.Library()

_NAMES = {key: text.split(":", 1)[0] for key, text in {**_HPD_TEXT, **_DISSOCIATED_TEXT}.items()}


@register.filter
def definition_names(keys):
    """["champiat", "kas"] -> "Champiat 2017, Kas 2020"."""
    return ", ".join(_NAMES.get(key, key.replace("_", " ")) for key in keys or [])
