"""Subcommands of `plait`; each module defines NAME, HELP, add_arguments(parser) and main(args)."""
