"""Tests of the pywire-auth command line."""
