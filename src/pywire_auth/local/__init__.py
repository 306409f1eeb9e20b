"""The local (password) identity provider: accounts, hashing, normalization."""
