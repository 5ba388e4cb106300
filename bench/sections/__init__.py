"""The sections of `manage.py bench` (the registry is bench.registry); importing this package
registers them."""

from . import boards, issues

__all__ = ["boards", "issues"]
