"""The gvisor tier: the guest agent under runsc (gVisor's user-space kernel)."""
