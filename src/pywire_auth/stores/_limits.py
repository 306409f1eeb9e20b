"""Column sizes shared by every store, so all backends accept exactly the same values."""

from __future__ import annotations

USER_ID_LENGTH = 64
EMAIL_LENGTH = 254
NAME_LENGTH = 255
PROVIDER_LENGTH = 64
SUBJECT_LENGTH = 255
PW_HASH_LENGTH = 512
#: Session ids are SHA-256 hex digests.
SESSION_ID_LENGTH = 64
#: Throttle keys are stored as SHA-256 hex digests.
THROTTLE_KEY_LENGTH = 64
#: Largest serialized ``claims`` or ``extras`` object, in bytes.
JSON_BYTES = 64 * 1024
