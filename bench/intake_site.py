"""Settings for the intake benchmark: the product's own, with one extra URL (bench/intake_urls.py).

The product's URLs never hold the bare view; only a server started with
DJANGO_SETTINGS_MODULE=bench.intake_site serves it.
"""

from dsr.settings import *

ROOT_URLCONF = "bench.intake_urls"
