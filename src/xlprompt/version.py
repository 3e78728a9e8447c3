"""The version of xlprompt (``xlprompt.__version__``)."""

__version__ = "0.1.0"
