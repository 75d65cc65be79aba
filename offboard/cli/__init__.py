"""The command line: click commands, the options defined once, one invocation."""
