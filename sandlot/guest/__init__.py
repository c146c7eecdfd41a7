"""Code that runs *inside* sandboxes.

Everything under this package is standard-library Python that must also run in the wasm
guest (CPython 3.15 on WASI: no threads, subprocesses or sockets). It never imports the
host side of sandlot; the host imports only `guest.agent.protocol` from here.
"""
