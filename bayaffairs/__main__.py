"""`python -m bayaffairs ...` runs the `bayaffairs` command."""

from bayaffairs.cli.main import main

main()
