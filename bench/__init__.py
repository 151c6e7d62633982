"""Benchmarks of screenrecall on this machine: `python -m bench.<name>` from the repo root (see README.md).

Every module here with a `main(argv)` is a benchmark; `bench/harness/` is what they share, and
`tests/support/` (synthetic screens, checkpoints, the child daemon, Xvfb) is shared with the tests.
"""
