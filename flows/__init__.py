"""Prefect flows, settings and the t212-etl command line: the only package that wires the others."""

import os

# Prefect's temporary server would otherwise phone home with usage data on start-up;
# this tool never talks to anything but Trading 212 (or the local sandbox).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The first run on a new machine migrates Prefect's database before its temporary server
# answers: measured over Prefect's 20 s default on 2 busy cores, which failed the run.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
