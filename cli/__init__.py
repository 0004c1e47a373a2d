"""The `bayaffairs` command line: what operators of the service run."""
