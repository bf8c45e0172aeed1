"""The plugin's schema steps, `NNNN_name.py` modules each with `apply(database)`."""
