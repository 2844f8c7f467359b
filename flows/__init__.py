"""Prefect flows, settings and the t212-etl command line: the only package that wires the others."""

import os

# Prefect's temporary server would otherwise phone home with usage data on start-up;
# this tool never talks to anything but Trading 212 (or the local sandbox).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
