"""xlprompt: few-shot cross-lingual transfer with soft prompts.

The core is MPT, the Multilingual Prompt Translator (Qiu et al., 2024, arXiv 2403.12407).
Data flows one way: ``data`` -> ``template`` -> ``models`` -> ``losses`` -> ``trainer`` -> ``store`` -> ``report``.
"""

__version__ = "0.1.0"


def load_run(run_dir):
    """Load a finished run directory for prediction (see :mod:`xlprompt.predict`)."""
    from xlprompt.predict import load_run as _load_run

    return _load_run(run_dir)
