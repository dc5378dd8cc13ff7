"""Append-only audit trail of security-relevant events (DESIGN §5.7)."""
