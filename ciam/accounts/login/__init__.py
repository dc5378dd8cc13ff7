"""The sign-in: the password, then each step a login needs (ciam.accounts.login.flow)."""
