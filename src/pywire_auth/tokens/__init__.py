"""JWT issuing and verification; the only package that imports a JOSE library."""
