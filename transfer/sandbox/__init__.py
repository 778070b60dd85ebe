"""Faithful emulators of the Bintray and Artifactory REST APIs, with seeded data and faults.

The engine never imports this package; the demo, the benchmarks and the tests do.
"""
