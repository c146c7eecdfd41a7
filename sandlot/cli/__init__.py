"""The `sandlot` command line: a thin front end over the SDK."""
