"""Where Django looks for the app's models: they are defined in ``dsr.core.models``."""

from .core.models import *
from .core.models import __all__  # noqa: F401
