"""The person's own details, email changes, password reset and change."""
