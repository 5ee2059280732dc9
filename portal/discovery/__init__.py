"""Discovery engines (no Flask): parsing inventories, mapping fields, staging imports."""
