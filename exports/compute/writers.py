"""Table writers: rows (tuples in a table's column order) to CSV or Parquet bytes, chunk by chunk, reproducibly.

The same rows give the same bytes, so a re-export of unchanged data has the same SHA-256:

* CSV: UTF-8, ``\\n`` line ends, the header row then the rows in the order given (the selectors sort them),
  integers in decimal, floats as Python's ``repr`` (the shortest text that reads back as the same float),
  booleans as ``true``/``false``, missing values as empty fields, quotes only where a value needs them.
* Parquet (pyarrow): the explicit schema of the table, row groups of a fixed number of rows (depending only on the
  number of columns), zstd compression at a fixed level, no timestamps anywhere (pyarrow writes none; its
  ``created_by`` names the pyarrow version, which the manifest records).

Both are generators of ``bytes`` that hold one chunk in memory at a time: the management command writes them to a
file, the API streams them.
"""
import csv
import hashlib
import io
from itertools import islice

#: Values per chunk (CSV) and per row group (Parquet): rows = this / columns, at least 128 and at most 16,384, so a
#: wide table (features_wide: hundreds of columns) holds as little in memory as a long one. The Parquet writer
#: keeps a row group in memory; beyond 16,384 rows its buffers, not the data, set the serving process's peak.
CHUNK_VALUES = 1 << 17
PARQUET_COMPRESSION = "zstd"
PARQUET_COMPRESSION_LEVEL = 3
FORMATS = {"csv": ".csv", "parquet": ".parquet"}
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _batches(rows, size):
    iterator = iter(rows)
    while True:
        batch = list(islice(iterator, size))
        if not batch:
            return
        yield batch
        del batch  # before the next one is read: one batch in memory at a time


class TableEncoder:
    """Encodes one table's rows; ``rows`` and ``sha256`` describe what was produced so far.

    Parameters
    ----------
    table : exports.compute.tables.Table
    fmt : {"csv", "parquet"}
    """

    def __init__(self, table, fmt):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use csv or parquet")
        self.table, self.fmt = table, fmt
        self.rows = 0
        self.bytes = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self):
        return self._hash.hexdigest()

    def chunks(self, rows):
        """The file's bytes, chunk by chunk, for an iterable of row tuples."""
        encode = self._csv if self.fmt == "csv" else self._parquet
        for chunk in encode(rows):
            if chunk:
                self._hash.update(chunk)
                self.bytes += len(chunk)
                yield chunk

    # -- CSV -------------------------------------------------------------------------------------------------------
    def _csv(self, rows):
        bools = [i for i, c in enumerate(self.table.columns) if c.type == "bool"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.table.names)
        yield _take(out)
        for batch in _batches(rows, chunk_rows(len(self.table.columns))):
            if bools:
                batch = [_bool_text(row, bools) for row in batch]
            writer.writerows(batch)  # csv writes None as "", floats with repr, ints with str
            self.rows += len(batch)
            yield _take(out)

    # -- Parquet ---------------------------------------------------------------------------------------------------
    def _parquet(self, rows):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = arrow_schema(self.table)
        group_rows = chunk_rows(len(self.table.columns))
        sink = _Drain()
        writer = pq.ParquetWriter(sink, schema, compression=PARQUET_COMPRESSION,
                                  compression_level=PARQUET_COMPRESSION_LEVEL, use_dictionary=True,
                                  write_statistics=True, version="2.6")
        try:
            for batch in _batches(rows, group_rows):
                self.rows += len(batch)
                columns = list(zip(*batch, strict=True))
                del batch  # one row group in memory at a time, as tuples or as columns
                arrays = [arrow_array(values, field.type) for values, field in zip(columns, schema, strict=True)]
                del columns
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=group_rows)
                del arrays
                yield sink.drain()
        finally:
            writer.close()
        yield sink.drain()


def arrow_array(values, arrow_type):
    """``pa.array(values, type=arrow_type)`` for the export's five types, built from its buffers.

    pyarrow's own conversion of a Python sequence first asks whether it is a pandas object, and to ask it imports
    pandas: 52 MB of the serving process's memory for nothing (measured, pyarrow 26). The values become the Arrow
    buffers directly: a validity bitmap, then the int32/int64/float64 values (nulls as 0), bits for booleans, or
    UTF-8 bytes and int32 offsets for strings. ``tests/exports/test_compute.py`` checks the result equals
    ``pa.array`` on every type, nulls, NaN, infinities and non-ASCII text included.
    """
    import numpy as np
    import pyarrow as pa

    n = len(values)
    valid = np.fromiter((value is not None for value in values), dtype=bool, count=n)
    nulls = n - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if pa.types.is_string(arrow_type):
        encoded = [b"" if value is None else value.encode("utf-8") for value in values]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
        if offsets[-1] >= 1 << 31:
            raise ValueError("a string column of more than 2 GiB in one row group")
        buffers = [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(encoded))]
    elif pa.types.is_boolean(arrow_type):
        bits = np.fromiter((bool(value) for value in values), dtype=bool, count=n)
        buffers = [bitmap, pa.py_buffer(np.packbits(bits, bitorder="little"))]
    else:
        dtype = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}[arrow_type]
        if dtype is not np.float64 and not all(isinstance(value, int) for value in values if value is not None):
            raise TypeError(f"an {arrow_type} column holds a value that is not an integer")  # numpy would truncate
        data = np.fromiter((0 if value is None else value for value in values), dtype=dtype, count=n)
        buffers = [bitmap, pa.py_buffer(data)]
    return pa.Array.from_buffers(arrow_type, n, buffers, null_count=nulls)


def chunk_rows(n_columns):
    """Rows per CSV chunk and per Parquet row group (a function of the number of columns only: same bytes)."""
    return max(128, min(16_384, CHUNK_VALUES // max(1, n_columns)))


def arrow_schema(table):
    import pyarrow as pa

    types = {"string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
             "bool": pa.bool_()}
    return pa.schema([pa.field(c.name, types[c.type], nullable=True) for c in table.columns])


def _bool_text(row, indices):
    row = list(row)
    for i in indices:
        if row[i] is not None:
            row[i] = "true" if row[i] else "false"
    return row


def _take(out):
    data = out.getvalue().encode("utf-8")
    out.seek(0)
    out.truncate(0)
    return data


class _Drain:
    """A write-only file for ParquetWriter whose written bytes are taken out after each row group."""

    closed = False

    def __init__(self):
        self._parts = []
        self._position = 0

    def write(self, data):
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self):
        return self._position

    def flush(self):
        pass

    def writable(self):
        return True

    def close(self):
        self.closed = True

    def drain(self):
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def write_table_file(table, rows, path, fmt, *, progress=None):
    """Write one table to ``path``; returns ``{"rows", "bytes", "sha256"}``. ``progress(n)`` is told of every chunk
    (its number of rows)."""
    encoder = TableEncoder(table, fmt)
    done = 0
    with open(path, "wb") as handle:
        for chunk in encoder.chunks(rows):
            handle.write(chunk)
            if progress and encoder.rows != done:
                progress(encoder.rows - done)
                done = encoder.rows
    return {"rows": encoder.rows, "bytes": encoder.bytes, "sha256": encoder.sha256}


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
