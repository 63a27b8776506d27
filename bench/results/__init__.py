"""The results data model: row fields (``schema``), ``results.json`` (``results_file``) and the
SQLite store of record (``store``). It sits just above the core, below every layer that
measures or reads rows, and imports nothing from them."""
