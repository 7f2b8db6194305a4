from django import forms

from .importing.runs import max_import_bytes


class BoundedUpload:
    """An uploaded file whose ``read()`` gives at most the import size limit plus one byte: a larger file is never
    read whole into memory, and the import refuses it as too large (and records the refusal as an ImportRun)."""

    def __init__(self, upload, limit):
        self.upload, self.limit = upload, limit
        self.name, self.size = upload.name, upload.size

    def read(self):
        self.upload.seek(0)
        return self.upload.read(self.limit + 1)


class ClinicalImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX in the layout described in docs/import.md.")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (validate only, write nothing)")

    def clean_file(self):
        return BoundedUpload(self.cleaned_data["file"], max_import_bytes())
