"""The process tier: bubblewrap namespaces + seccomp + rlimits + cgroups around the guest
agent, spoken to over pipes."""
