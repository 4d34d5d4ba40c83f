"""Characterization: sweep specifications, the sweep runner, linear-region fits (not built yet).

Never imports torch.
"""
