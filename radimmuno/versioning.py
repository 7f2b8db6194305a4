"""Optimistic locking: a record edited by two people at once is never silently overwritten (issue 15).

A ``VersionedModel`` row carries ``version``, raised by one on every save. A writer that read the row at version
*n* says so (``row.expected_version = n``, from the form's hidden field or the API's ``version``) and the save goes
through only if the row is still at *n*; otherwise ``EditConflict``: a ValidationError naming, field by field,
the value saved meanwhile and the writer's own, so the second writer sees both and decides (the form comes back
with the new version: saving again keeps theirs on purpose). A save without ``expected_version`` (an import, a
service) still raises the version, so an editor who opened the row before it is told.
"""
from django import forms
from django.core.exceptions import ValidationError
from django.db import models, transaction


class EditConflict(ValidationError):
    """Someone saved the row since this writer read it. ``current``: the row as saved now; ``yours``: the values
    this writer tried, for the fields that differ ({field name: value})."""

    def __init__(self, row, current, fields):
        self.current_version = current.version
        self.yours = {f: getattr(row, f) for f in fields}
        self.theirs = {f: getattr(current, f) for f in fields}
        differ = [f for f in fields if self.yours[f] != self.theirs[f]]
        parts = "; ".join(f"{_label(row, f)} is now {_text(current, f)}, yours {_text(row, f)}" for f in differ)
        name = row._meta.verbose_name
        super().__init__(
            f"This {name} was changed by someone else since you opened it"
            + (f": {parts}." if parts else ".")
            + " Check their change; to keep yours, save again.", code="edit_conflict")


def _label(row, name):
    return str(row._meta.get_field(name).verbose_name)


def _text(row, name):
    field = row._meta.get_field(name)
    value = getattr(row, name)
    if value in (None, ""):
        return "empty"
    return str(dict(field.flatchoices).get(value, value)) if field.choices else str(value)


class VersionedModel(models.Model):
    version = models.PositiveIntegerField(default=1, editable=False,
                                          help_text="Raised by one on every save (optimistic locking).")

    #: The fields a conflict message compares (the ones people edit; never free text, which may identify).
    conflict_fields = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        expected = self.__dict__.pop("expected_version", None)
        if self._state.adding or self.pk is None:
            return super().save(*args, **kwargs)
        with transaction.atomic(using=kwargs.get("using")):
            rows = type(self)._base_manager.filter(pk=self.pk)
            if expected is not None and not rows.filter(version=expected).update(version=int(expected) + 1):
                current = rows.first()
                if current is not None:
                    raise EditConflict(self, current, self.conflict_fields)
            if expected is None:
                rows.update(version=models.F("version") + 1)
                self.version = rows.values_list("version", flat=True).first() or self.version + 1
            else:
                self.version = int(expected) + 1
            return super().save(*args, **kwargs)


class VersionedModelForm(forms.ModelForm):
    """A ModelForm of a VersionedModel: the version the editor saw travels in a hidden field; if the row was saved
    meanwhile, the form shows the conflict (both values) and carries the new version, so saving again keeps this
    editor's values on purpose. ``cleaned_data["expected_version"]`` is what services pass on."""

    expected_version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version

    def _post_clean(self):
        super()._post_clean()
        seen = self.cleaned_data.get("expected_version") if hasattr(self, "cleaned_data") else None
        if self.instance.pk is None or seen is None:
            return
        current = type(self.instance)._base_manager.filter(pk=self.instance.pk).first()
        if current is not None and current.version != seen:
            self.add_error(None, EditConflict(self.instance, current, self.instance.conflict_fields))
            self.data = self.data.copy()
            self.data[self.add_prefix("expected_version")] = str(current.version)
        else:
            self.instance.expected_version = seen  # the save checks again, in its transaction
