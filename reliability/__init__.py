"""`make reliability`: the fault and load driver (run.py) and its parts."""
