from django import forms


class ClinicalImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX in the layout described in docs/import.md.")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (validate only, write nothing)")

    MAX_BYTES = 20 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB; split it into smaller files.")
        return upload
