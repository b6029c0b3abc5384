"""Thin wrappers over Linux system calls that the os module does not provide."""
