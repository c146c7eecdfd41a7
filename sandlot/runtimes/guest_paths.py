"""Where things are inside every sandbox, whatever its tier: the one place the host side
spells the guest's paths (the guest agent, which runs on the guest's own Python and imports
nothing of sandlot's host side, keeps its own copy of these)."""

HOME = "/home/user"  # the working folder; relative file paths are under it
TMP = "/tmp"
OUTPUTS = "/tmp/outputs"  # what the code leaves here comes back as artifacts
