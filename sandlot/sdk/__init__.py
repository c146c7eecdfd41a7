"""The SDK: `Sandbox` and `AsyncSandbox`, two faces of one core (`core.SandboxCore`)."""
