from django import forms
from django.conf import settings


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. 'R scripts on my laptop'.")
    days = forms.IntegerField(label="Valid for (days)", min_value=1, initial=settings.RADIMMUNO_API_TOKEN_DAYS,
                              max_value=settings.RADIMMUNO_API_TOKEN_MAX_DAYS)
