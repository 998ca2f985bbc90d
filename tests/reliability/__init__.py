"""Reliability suite: floods, token-endpoint chaos, two instances, SIGKILL, fuzzing."""
