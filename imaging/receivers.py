"""Announce new lesion masks; radiomics extraction is enqueued after commit."""
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Segment
from .services.radiomics import auto_extract_enabled, feature_sets_request


@receiver(post_save, sender=Segment)
def segment_saved(sender, instance, created, raw=False, **kwargs):
    """A new mask gets its feature sets. Reviews and lesion mapping (later saves) do not re-extract: features
    depend on the image and the mask only, and a stored mask is never replaced (a new one is a new Segment)."""
    if raw or not created or not auto_extract_enabled():
        return

    feature_sets_request(segment=instance)
