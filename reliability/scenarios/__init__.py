"""The scenarios of `make reliability`, one module a family."""
