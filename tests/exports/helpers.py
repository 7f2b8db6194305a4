"""Running exports and reading their files back, for the export tests."""
import csv
import io
import json

import pyarrow.parquet as pq
from django.core.management import call_command


def export(tmp_path, name="out", *args):
    """``manage.py export_dataset --output <tmp>/<name> *args``; returns the output directory."""
    out = tmp_path / name
    call_command("export_dataset", "--output", str(out), *args, verbosity=0, stdout=io.StringIO())
    return out


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_parquet(path):
    return pq.read_table(path).to_pylist()


def manifest(directory):
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def cells(directory):
    """Every value of every data file of an export as text (Parquet decoded), with the file it came from."""
    for path in sorted(directory.iterdir()):
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                for row in csv.reader(handle):
                    for value in row:
                        yield path.name, value
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                yield path.name, name
            for row in table.to_pylist():
                for value in row.values():
                    yield path.name, "" if value is None else str(value)
