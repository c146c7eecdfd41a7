"""The host's network gateway: every tier's only way out, by the sandbox's policy.

`policy` decides, `resolver` resolves names for the gateway (never for the sandbox),
`gateway` holds the per-sandbox listeners, `proxy` speaks the HTTP proxy protocol on them,
`tls` makes the per-sandbox CA for hosts with secrets, `fetch` makes one request on a
sandbox's behalf (the wasm bridge) and `log` keeps what each sandbox tried. Below the
runtimes: tiers import it, it imports no tier. See docs/network.md.
"""
