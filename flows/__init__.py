"""Prefect flows, settings and the t212-etl command line: the only package that wires the others."""

import os

# Prefect's client and its temporary server would otherwise collect usage data (and print
# a banner about it on a first run in a terminal); this tool handling personal financial
# data talks to nothing but Trading 212 (or the local sandbox). A user's own choice stands.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# The first run on a new machine migrates Prefect's database before its temporary server
# answers: measured over Prefect's 20 s default on 2 busy cores, which failed the run.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
