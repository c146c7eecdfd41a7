"""The test internet (a network namespace of fake hosts) and the gateway's own tests."""
