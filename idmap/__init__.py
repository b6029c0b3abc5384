"""User and group id mapping for user namespaces, usable without the rest of userrunc."""
