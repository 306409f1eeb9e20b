"""pywire-auth's revisions, oldest first (each file names the one before it)."""
