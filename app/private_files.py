"""Files that hold secrets or personal data: defined in db.private_files, re-exported here."""

from db.private_files import FILE_MODE, FOLDER_MODE, open_private, private_dir, write_private

__all__ = ["FILE_MODE", "FOLDER_MODE", "open_private", "private_dir", "write_private"]
