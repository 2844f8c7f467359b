"""The pipeline: the Prefect flow, a run, an account and a resource, each a level of its own."""
