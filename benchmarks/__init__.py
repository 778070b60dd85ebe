"""Benchmarks of the emulators' ceiling and of the transfer engine: ``python -m benchmarks.run``.

Everything runs in separate processes on loopback: ``transfer sandbox serve`` (the emulators),
``transfer migrate`` (the engine), and the benchmark runner itself as the measuring client.
"""
