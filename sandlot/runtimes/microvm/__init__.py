"""The microvm tier: each sandbox is a small QEMU `microvm` VM restored from a snapshot."""
