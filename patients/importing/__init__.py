"""File imports (``docs/import.md``): the machinery every import of the project shares, and the clinical import.

``reports`` (problems, the report), ``files`` (reading CSV/XLSX row by row, every defect of the file a problem with
its row), ``values`` (the cell parsers), ``runs`` (``run_import``: size limit, header, check, write in one
transaction, the ``ImportRun``) and ``clinical`` (``import_clinical``). ``patients.importer`` re-exports the public
names, which the imaging imports use.
"""
