"""AuthStore implementations: ``memory`` (reference) and ``sqlalchemy`` (any async SQL database)."""
