"""Built-in encoder plugins, one family per module; registered through entry points like any plugin."""
