"""Second factors: TOTP (pyotp), SMS codes, recovery codes; the login's second step."""
