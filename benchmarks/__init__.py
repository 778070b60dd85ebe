"""Benchmarks of the emulators' ceiling and of the transfer engine: ``python -m benchmarks.run``;
the README's figures, one fixed set in one run that rewrites its block: ``python -m
benchmarks.readme`` (:mod:`benchmarks.readme`).

Everything runs in separate processes on loopback: ``transfer sandbox serve`` (the emulators),
``transfer migrate`` (the engine), and the benchmark runner itself as the measuring client.
"""
