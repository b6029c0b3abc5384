"""Networking for containers without root, usable without the rest of userrunc."""
