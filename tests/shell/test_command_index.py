"""The lazily loaded command registry: its index matches what loading every module gives,
and a lookup loads only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys

from sandlot.guest.shell.commands._index import INDEX


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_the_index_is_what_importing_every_module_registers() -> None:
    built = json.loads(
        _fresh(
            "import json; from sandlot.guest.shell.commands import build_index; "
            "print(json.dumps(build_index()))"
        )
    )
    assert built == INDEX, "out of date: run `python -m sandlot.guest.shell.commands`"


def test_a_lookup_loads_only_the_module_it_needs_and_gets_the_final_function() -> None:
    out = _fresh(
        "import json, sys\n"
        "from sandlot.guest.shell.commands import COMMANDS\n"
        "pkg = 'sandlot.guest.shell.commands.'\n"
        "def loaded(): return sorted(m[len(pkg):] for m in sys.modules if m.startswith(pkg))\n"
        "before = loaded()\n"
        "assert 'jq' in COMMANDS and 'no-such-command' not in COMMANDS\n"
        "f = COMMANDS.get('jq')\n"
        "print(json.dumps([before, loaded(), f.__module__]))\n"
    )
    before, after, module = json.loads(out)
    assert before == ["_index"]
    assert "jq" in after and "awk" not in after and "archive" not in after
    assert module.endswith(".jq")


def test_lookups_in_any_order_give_the_registry_of_an_eager_import() -> None:
    # Load modules in reverse order, then every name must still resolve to the index's module.
    out = _fresh(
        "from sandlot.guest.shell.commands import COMMANDS, MODULES\n"
        "import importlib\n"
        "for m in reversed(MODULES):\n"
        "    importlib.import_module('sandlot.guest.shell.commands.' + m)\n"
        "from sandlot.guest.shell.commands._index import INDEX\n"
        "bad = [n for n, m in INDEX.items() if COMMANDS[n].__module__.rsplit('.', 1)[1] != m]\n"
        "print(bad)\n"
    )
    assert out.strip() == "[]"
