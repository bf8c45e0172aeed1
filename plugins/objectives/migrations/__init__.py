"""The plugin's numbered migrations (`NNNN_name.py`), each with its own frozen definitions."""
