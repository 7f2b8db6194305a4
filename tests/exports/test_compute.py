"""The Django-free core: writers (exact text, reproducible bytes, flat memory), pseudonyms, ages, stage groups,
lesion identifiers, SDTM rows."""
import hashlib
import hmac
import io
import subprocess
import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exports.compute import sdtm
from exports.compute.pseudonyms import Pseudonymiser, age_text, lesion_ids, sdtm_day, stage_group
from exports.compute.tables import FEATURES_LONG, Column, Table
from exports.compute.writers import TableEncoder, arrow_array, chunk_rows

TABLE = Table("t", "a test table", (Column("name", "string", "", ""), Column("n", "int32", "", ""),
                                    Column("x", "float64", "mm", ""), Column("flag", "bool", "", "")))
ROWS = [("a", 1, 0.1 + 0.2, True), ("b,c", None, 1e-05, False), ('say "hi"', -3, 12.0, None), ("é", 7, None, True)]


def encode(table, rows, fmt):
    encoder = TableEncoder(table, fmt)
    data = b"".join(encoder.chunks(rows))
    assert encoder.sha256 == hashlib.sha256(data).hexdigest() and encoder.rows == len(rows)
    return data


def test_csv_text_is_exact():
    assert encode(TABLE, ROWS, "csv").decode("utf-8") == (
        "name,n,x,flag\n"
        "a,1,0.30000000000000004,true\n"
        '"b,c",,1e-05,false\n'
        '"say ""hi""",-3,12.0,\n'
        "é,7,,true\n")


def test_parquet_keeps_the_types_and_the_values():
    table = pq.read_table(io.BytesIO(encode(TABLE, ROWS, "parquet")))
    assert [str(f.type) for f in table.schema] == ["string", "int32", "double", "bool"]
    assert table.to_pylist()[1] == {"name": "b,c", "n": None, "x": 1e-05, "flag": False}


@pytest.mark.parametrize("values, arrow_type", [
    (["x", None, "", "é → ∑", "y" * 1000], "string"),
    ([1, None, -3, 2**31 - 1, -(2**31)], "int32"),
    ([2**40, None, 0], "int64"),
    ([1.5, None, float("nan"), float("inf"), float("-inf"), -0.0, 1e300, 5e-324], "float64"),
    ([True, None, False, True] * 5, "bool"),
    ([], "string"),
    ([None, None, None], "float64"),
])
def test_arrays_built_from_buffers_equal_pyarrows_conversion(values, arrow_type):
    import pyarrow as pa

    arrow_type = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
                  "bool": pa.bool_()}[arrow_type]
    built = arrow_array(values, arrow_type)
    built.validate(full=True)
    expected = pa.array(values, type=arrow_type)  # pyarrow's own conversion: the reference
    assert built.null_count == expected.null_count
    assert built.type == expected.type  # NaN is not equal to itself: compare the values' texts
    assert [repr(v) for v in built.to_pylist()] == [repr(v) for v in expected.to_pylist()]


def test_an_integer_column_refuses_what_is_not_an_integer():
    import pyarrow as pa

    with pytest.raises(TypeError, match="not an integer"):
        arrow_array([1, 1.5], pa.int32())
    with pytest.raises(OverflowError):
        arrow_array([2**31], pa.int32())


def test_writing_parquet_does_not_import_pandas(tmp_path):
    """pyarrow's list conversion imports pandas (52 MB of the serving process); the writer must not need it."""
    script = ("import sys; from exports.compute.tables import FEATURES_LONG; "
              "from exports.compute.writers import TableEncoder; "
              "rows = [('P1', 'T01', 1, 'lesion', 'ct', 1, 'f', 1.0)] * 1000; "
              "data = b''.join(TableEncoder(FEATURES_LONG, 'parquet').chunks(rows)); "
              "print(len(data) > 0, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_same_rows_give_the_same_bytes(fmt):
    rows = [("P1", "T01", i % 50, "lesion", "ct", 1, f"f{i % 997}", i / 7) for i in range(200_000)]
    assert encode(FEATURES_LONG, rows, fmt) == encode(FEATURES_LONG, list(rows), fmt)


def test_parquet_row_groups_depend_only_on_the_number_of_columns():
    rows = [("P1", "T01", 1, "lesion", "ct", 1, "f", float(i)) for i in range(40_000)]
    metadata = pq.read_metadata(io.BytesIO(encode(FEATURES_LONG, rows, "parquet")))
    assert chunk_rows(8) == 16_384 and metadata.num_row_groups == 3
    assert chunk_rows(504) == 260 and chunk_rows(5_000) == 128


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_memory_stays_flat_while_streaming(fmt):
    """Encoding rows from a generator holds one chunk, not the table: the peak does not grow with the rows
    (tracemalloc, the Python heap; bench/export.py measures the serving process's RSS)."""
    def rows(n):
        return (("P0123456789abcdef", "T01", i % 90, "lesion", "ct-default", 1, f"feature_{i % 1500}", i * 0.5)
                for i in range(n))

    def peak(n):
        tracemalloc.start()
        for _ in TableEncoder(FEATURES_LONG, fmt).chunks(rows(n)):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak(150_000), peak(450_000)
    assert large < 1.3 * small, (small, large)


def test_pseudonyms_are_hmacs_of_site_and_study_id():
    secret = "k" * 64
    expected = hmac.new(secret.encode(), "patient\x1fGR-ONC\x1fPT-0001".encode(), hashlib.sha256).hexdigest()
    assert Pseudonymiser(secret).patient("GR-ONC", "PT-0001") == "P" + expected[:16]
    assert Pseudonymiser(secret).site("GR-ONC").startswith("S") and len(Pseudonymiser(secret).site("GR-ONC")) == 9
    assert Pseudonymiser("other").patient("GR-ONC", "PT-0001") != Pseudonymiser(secret).patient("GR-ONC", "PT-0001")
    assert Pseudonymiser(None).patient("GR-ONC", "PT-0001") == "PT-0001"


def test_ages_over_89_are_pooled():
    assert [age_text(2024, y) for y in (1935, 1934, 1930, None)] == ["89", "90+", "90+", None]


@pytest.mark.parametrize("text, group", [("IVA", "IVA"), (" stage iiib ", "IIIB"), ("IV", "IV"), ("0", "0"),
                                         ("IIIC1", "IIIC1"), ("Mr Smith", None), ("T2N1M0", None), ("", None)])
def test_only_stage_groups_pass(text, group):
    assert stage_group(text) == group


def test_lesion_identifiers_follow_role_and_natural_label_order():
    ids = lesion_ids([(1, "target", "T10"), (2, "target", "T2"), (3, "non-target", "NT1"), (4, "new", "N1"),
                      (5, "target", "liver, Mrs X")])
    assert ids == {5: "T01", 2: "T02", 1: "T03", 3: "NT01", 4: "NEW01"}  # "liver" sorts before "T2"


def test_study_days_have_no_day_zero():
    assert [sdtm_day(d) for d in (-5, -1, 0, 1, 56, None)] == [-5, -1, 1, 2, 57, None]


def test_sdtm_rows_follow_the_variable_lists():
    visit = (2, "FOLLOW-UP 1")
    tu = sdtm.tu_rows("S", "S-P1", [{"id": "T01", "role": "target", "organ": "lymph_node", "visit": (1, "BASELINE"),
                                     "day": -3, "modality": "CT"}])
    tr = sdtm.tr_rows("S", "S-P1", [
        {"lesion": "T01", "role": "target", "nodal": True, "equivocal": False, "visit": visit, "day": 56,
         "modality": "CT", "size_mm": None, "status": "too-small-to-measure", "non_target_status": ""},
        {"lesion": "NT01", "role": "non-target", "nodal": False, "equivocal": False, "visit": visit, "day": 56,
         "modality": "MR", "size_mm": None, "status": "present", "non_target_status": "unequivocal-progression"},
        {"lesion": "NT02", "role": "non-target", "nodal": False, "equivocal": False, "visit": visit, "day": 56,
         "modality": None, "size_mm": None, "status": "not-assessed", "non_target_status": ""},
    ], [{"visit": visit, "day": 56, "modality": "CT", "target_sum_mm": Decimal("5.00")}])
    rs = sdtm.rs_rows("S", "S-P1", [{"regimen": 1, "criteria": "irecist", "category": "iUPD", "visit": visit,
                                     "day": 56}, {"regimen": 1, "criteria": "recist1.1", "category": "",
                                                  "visit": visit, "day": 56}])
    for domain, rows in (("TU", tu), ("TR", tr), ("RS", rs)):
        assert sdtm.validate(domain, [v.name for v in sdtm.DOMAINS[domain]], rows) == [], domain
    assert tu[0][9:11] == ("LYMPH NODE", "CT SCAN") and tu[0][-1] == -3
    records = [dict(zip([v.name for v in sdtm.DOMAINS["TR"]], r, strict=True)) for r in tr]
    assert [(r["TRLNKID"], r["TRTESTCD"], r["TRORRES"], r["TRSTRESN"], r["TRSTAT"]) for r in records] == [
        ("NT01", "TUMSTATE", "UNEQUIVOCAL PROGRESSION", None, None), ("NT02", "TUMSTATE", None, None, "NOT DONE"),
        ("T01", "LPERP", "TOO SMALL TO MEASURE", 5.0, None), (None, "SUMDIAM", "5", 5.0, None)]
    assert [r[3] for r in records and tr] == [1, 2, 3, 4] and records[0]["TRDY"] == 57
    assert len(rs) == 1 and rs[0][8:11] == ("iRECIST", "iUPD", "iUPD")


def test_the_documentation_lists_every_column_and_variable():
    from pathlib import Path

    from exports.compute.tables import TABLES

    text = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"### `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` | {column.type} |" in text, (table.name, column.name)
    for domain, variables in sdtm.DOMAINS.items():
        for v in variables:
            assert f"| `{v.name}` | {v.label} | {v.type} | {v.core} |" in text, (domain, v.name)
