"""The shipped FCL weights (`fcl.pth`, and `fcl.json` with its figures and the command that made it).

This folder is installed as the package `realtime.weights` (setup.cfg maps it there), so the weights
travel inside the wheel and are found with `importlib.resources` from any working directory
(`realtime.reader.DEFAULT_WEIGHTS`); a checkout that was never installed reads them from here directly.
"""
