"""The reliability suite: floods, token-endpoint chaos, two instances, SIGKILL, fuzzing.

Every scenario runs for real (`tokenbot serve` subprocesses, the emulator over loopback HTTP,
SQLite files and the PostgreSQL server) and reads its size from a module-level `SIZES`: the
short form runs in `make test`, the long one (marked `soak`) in `make soak`
(`pytest -m soak tests/reliability`; minutes, not seconds). Each test prints its figures with
`-s`.
"""
