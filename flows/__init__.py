"""Prefect flows, settings and the t212-etl command line: the only package that wires the others."""
