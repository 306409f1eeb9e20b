"""``python -m pywire_auth.cli``: the same as the ``pywire-auth`` console script."""

from pywire_auth.cli.main import main

main()
