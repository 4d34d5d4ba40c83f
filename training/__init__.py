"""The training floor: datasets, models, the trainer (DDP), NEAT, and training through the
crossbar emulation (hardware in the loop). What runs the whole pipeline and writes reports
(``neat map``, the experiment) is in the studies floor above, ``neatxbar.studies``."""
