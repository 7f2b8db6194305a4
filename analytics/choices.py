"""Vocabularies of the analytics app."""
from django.db import models


class Criteria(models.TextChoices):
    RECIST = "recist1.1", "RECIST 1.1"
    IRECIST = "irecist", "iRECIST"
