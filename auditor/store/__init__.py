"""SQLite storage through sqlite-utils: migrations, writes, queries, the audit fingerprint."""
from auditor.store.db import default_db_path, open_db

__all__ = ["default_db_path", "open_db"]
