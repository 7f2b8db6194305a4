"""A record's change history as people read it: who, when, created / changed / deleted, and each changed field
before → after — built from django-simple-history rows in one query per model, whatever the number of changes."""

_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


def _display(record, field):
    value = getattr(record, field)
    if value is None or value == "":
        return "–"
    choices = record._meta.get_field(field).choices
    if choices:
        return str(dict(choices).get(value, value))
    if hasattr(value, "normalize"):  # Decimal sizes: 30.50 -> 30.5
        return f"{value.normalize():f}"
    return str(value)


def change_entries(records, *, fields, describe, record_type):
    """History entries of one model's historical ``records`` (any order): newest first.

    ``fields``: the fields whose before → after a change shows; ``describe(record)``: what the row is about, in
    words ("T1 at 2026-03-01"); ``record_type``: its kind in words ("measurement").
    """
    previous, entries = {}, []
    for record in sorted(records, key=lambda r: (r.id, r.history_date, r.history_id)):
        before = previous.get(record.id)
        changes = []
        if record.history_type == "~" and before is not None:
            changes = [(record._meta.get_field(f).verbose_name, _display(before, f), _display(record, f))
                       for f in fields if getattr(before, f) != getattr(record, f)]
        if record.history_type != "~" or changes:
            user = record.history_user
            entries.append({"when": record.history_date, "who": user.get_username() if user else "",
                            "action": _ACTIONS[record.history_type], "type": record_type, "what": describe(record),
                            "changes": changes, "reason": record.history_change_reason or ""})
        previous[record.id] = record
    return sorted(entries, key=lambda e: e["when"], reverse=True)
