"""The documentation that is derived from the schema must match the installed schema."""

from __future__ import annotations

import os

from schema_reference import render

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "schema.md")


def test_schema_reference_is_up_to_date(db):
    with open(REFERENCE, encoding="utf-8") as committed:
        assert committed.read() == render(db.admin), (
            "docs/schema.md is stale: regenerate it as described in tests/client/schema_reference.py")
