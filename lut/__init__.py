"""The HDF5 cell look-up table (schema ``neat-lut/1``) and its interpolation (not built yet)."""
