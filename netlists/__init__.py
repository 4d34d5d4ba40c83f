"""SPICE text of neat-xbar: netlist templates and transistor model cards (package data).

The files are read with :func:`importlib.resources.files` by :mod:`neatxbar.spice.templates`;
nothing here is Python logic.
"""
