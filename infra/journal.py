"""The deploy journal box: a versioned private bucket the pipeline writes each run into."""

from __future__ import annotations

import pulumi

from infra.buckets import private_bucket


class Journal(pulumi.ComponentResource):
    """Versioned, so an overwritten or deleted journal entry can still be read back."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Journal", name, None, opts)
        self.bucket = private_bucket(name, self, versioned=True)
        self.register_outputs({"bucket": self.bucket.bucket})
