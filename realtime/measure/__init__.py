"""Measuring commands: accuracy, bench, soak, stress, and the scene generator they (and the demo) use."""
