"""Bank records (D1, D4): loading the bank's customer file and matching WeCom
customers to it.

The file (CSV or XLSX from the admin, or JSON rows from core systems) is
validated row by row: bad rows are reported in Chinese with their line number
and never block the good ones. Good rows are encrypted and hashed in Python in
batches, streamed into a temporary table with ``COPY`` and merged with one
``INSERT … SELECT … ON CONFLICT``. Matching is set-based: customers whose
remark mobiles hash to a record's phone hash are verified in one statement.

The work lives in one module per part; this one names what the rest of the code uses:

- ``bank_files``: reading CSV and XLSX files;
- ``bank_rows``: validating rows, the counts and per-row errors;
- ``bank_import``: the bulk load;
- ``bank_jobs``: the import as a background job with progress;
- ``bank_verify``: matching and verification (D4).
"""

from __future__ import annotations

from .bank_files import (
    COLUMNS,
    bank_file_check,
    bank_file_rows_estimate,
    rows_from_csv,
    rows_from_file,
    rows_from_xlsx,
    rows_iter_from_file,
    rows_to_csv,
)
from .bank_import import bank_records_import
from .bank_jobs import (
    bank_import_job_create,
    bank_import_job_error_report,
    bank_import_job_retry,
    bank_import_job_run,
    bank_import_jobs_sweep,
    bank_import_jobs_visible_to,
)
from .bank_rows import (
    MAX_ERRORS_KEPT,
    ImportResult,
    RowError,
    bank_rows_preview,
    ring_for,
    validate_row,
)
from .bank_verify import (
    _H5_VERIFY_SALT,  # noqa: F401 (the H5 link tests sign with it)
    VERIFY_TIMELINE_KIND,
    bank_records_in_scope_of,
    bank_records_match_remark_mobiles,
    customer_bind_by_manager,
    customer_from_verify_token,
    customer_verify,
    customer_verify_by_phone,
    customer_verify_link_token,
    follow_set_remark_mobiles,
    signed_customer_id,
)

__all__ = [
    "COLUMNS",
    "MAX_ERRORS_KEPT",
    "VERIFY_TIMELINE_KIND",
    "ImportResult",
    "RowError",
    "bank_file_check",
    "bank_file_rows_estimate",
    "bank_import_job_create",
    "bank_import_job_error_report",
    "bank_import_job_retry",
    "bank_import_job_run",
    "bank_import_jobs_sweep",
    "bank_import_jobs_visible_to",
    "bank_records_import",
    "bank_records_in_scope_of",
    "bank_records_match_remark_mobiles",
    "bank_rows_preview",
    "customer_bind_by_manager",
    "customer_from_verify_token",
    "customer_verify",
    "customer_verify_by_phone",
    "customer_verify_link_token",
    "follow_set_remark_mobiles",
    "ring_for",
    "rows_from_csv",
    "rows_from_file",
    "rows_from_xlsx",
    "rows_iter_from_file",
    "rows_to_csv",
    "signed_customer_id",
    "validate_row",
]
