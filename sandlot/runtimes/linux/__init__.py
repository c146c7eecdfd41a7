"""What the Linux tiers (process, gvisor) share: the host side of a jail (`jail.py`: its
state folder, writable folders, cgroups and cleanup), its size-capped disk, warm spares, the
sweep of a killed host's leftovers, the host userland a jail is given, and the capability
set of a tier that runs real Linux programs (`LINUX`)."""

# What a tier that runs the guest agent on a real Linux userland provides.
LINUX = frozenset({"python", "shell", "files", "subprocess", "pip", "compilers"})
