"""Settings for the portal: base.py reads the environment, the others adjust it."""
