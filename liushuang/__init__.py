"""liushuang: validate, publish and audit six-doubles supervision records."""
__version__ = "0.1.0"
