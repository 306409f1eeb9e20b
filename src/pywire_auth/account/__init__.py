"""Account lifecycle: mailed links (reset, verify), change password, delete account."""
