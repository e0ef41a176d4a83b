"""Read the token a local stack mailed to an address (the outbox is a folder of .eml files)."""

from __future__ import annotations

import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

TOKEN = re.compile(r"^token: (\S+)$", re.MULTILINE)


def token_for(outbox: Path, address: str, timeout: float = 10) -> str | None:
    """The token in the newest message to `address`, waiting up to `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True) if outbox.exists() else []:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            if str(message["To"]).lower() != address.lower():
                continue
            found = TOKEN.search(message.get_body(preferencelist=("plain",)).get_content())
            if found:
                return found.group(1)
        time.sleep(0.1)
    return None
