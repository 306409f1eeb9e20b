"""The ``pywire-auth`` console script: one module per command group."""
