"""Characterization: sweep specifications, the resumable sweep runner (a process pool, any executor
or Dask), linear-region fits, read energy, calibration to the paper's cut-offs and LUT plots.

Writes LUTs through :mod:`neatxbar.lut`'s format (h5py only); never imports torch.
"""
