"""The names and defaults of bash's `set -o` and `shopt` options, for listing and checking them.

Options live in one dict on the interpreter (`sh.options`); a name missing there has the
default given here, so a fresh shell pays nothing for the options it never touches.
"""

from __future__ import annotations

from typing import Any

# `set -o` names, as a non-interactive bash 5.2 starts them.
_SET_O = dict.fromkeys(
    "allexport emacs errexit errtrace functrace histexpand history ignoreeof keyword monitor "
    "noclobber noexec noglob nolog notify nounset onecmd physical pipefail posix privileged "
    "verbose vi xtrace".split(),
    False,
) | dict.fromkeys(("braceexpand", "hashall", "interactive-comments"), True)
SET_O = dict(sorted(_SET_O.items()))

_SHOPT_ON = (
    "checkwinsize cmdhist complete_fullquote extquote force_fignore globasciiranges "
    "globskipdots hostcomplete interactive_comments patsub_replacement progcomp promptvars "
    "sourcepath expand_aliases"
).split()
_SHOPT_OFF = (
    "autocd assoc_expand_once cdable_vars cdspell checkhash checkjobs compat31 compat32 "
    "compat40 compat41 compat42 compat43 compat44 direxpand dirspell dotglob execfail extdebug "
    "extglob failglob globstar gnu_errfmt histappend histreedit histverify huponexit "
    "inherit_errexit lastpipe lithist localvar_inherit localvar_unset login_shell mailwarn "
    "no_empty_cmd_completion nocaseglob nocasematch noexpand_translation nullglob "
    "progcomp_alias restricted_shell shift_verbose varredir_close xpg_echo"
).split()
# bash lists shopt options in this order (its table's, not sorted).
SHOPT_ORDER = (
    "autocd assoc_expand_once cdable_vars cdspell checkhash checkjobs checkwinsize cmdhist "
    "compat31 compat32 compat40 compat41 compat42 compat43 compat44 complete_fullquote "
    "direxpand dirspell dotglob execfail expand_aliases extdebug extglob extquote failglob "
    "force_fignore globasciiranges globskipdots globstar gnu_errfmt histappend histreedit "
    "histverify hostcomplete huponexit inherit_errexit interactive_comments lastpipe lithist "
    "localvar_inherit localvar_unset login_shell mailwarn no_empty_cmd_completion nocaseglob "
    "nocasematch noexpand_translation nullglob patsub_replacement progcomp progcomp_alias "
    "promptvars restricted_shell shift_verbose sourcepath varredir_close xpg_echo"
).split()
SHOPT = dict.fromkeys(_SHOPT_OFF, False) | dict.fromkeys(_SHOPT_ON, True)


def is_on(sh: Any, name: str) -> bool:
    d = sh.options.get(name)
    if d is None:
        return SET_O.get(name, SHOPT.get(name, False))
    return bool(d)


def listing(sh: Any, names: list[str], form: str) -> str:
    """`set -o`/`shopt` (form "table"), `set +o`/`shopt -p` (form "set"/"shopt") lines."""
    out = []
    for n in names:
        on = is_on(sh, n)
        if form == "table":
            out.append(f"{n:<15}\t{'on' if on else 'off'}\n")
        elif form == "set":
            out.append(f"set {'-' if on else '+'}o {n}\n")
        else:
            out.append(f"shopt {'-s' if on else '-u'} {n}\n")
    return "".join(out)
