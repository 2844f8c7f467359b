"""The application: command line, commands, output, status, demo, deployment, HTML report."""
