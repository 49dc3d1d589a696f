"""The simulated kernel: pure Python + numpy, no widget imports."""
