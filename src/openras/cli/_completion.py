"""Shell completion: ``openras completion bash|zsh`` prints a script; the script asks
``openras __complete KIND`` for the live words (entry names, handles), so completion always
matches the phonebooks and connections of the moment.

``__complete`` never starts a daemon, never fails loudly and prints one word per line.
"""

from __future__ import annotations

import argparse
import sys
from argparse import Namespace

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final

COMMANDS: Final = (
    "dial",
    "hangup",
    "list",
    "status",
    "stats",
    "watch",
    "history",
    "entries",
    "entry",
    "creds",
    "daemon",
    "manager",
    "error",
    "completion",
)
ENTRY_COMMANDS: Final = ("show", "add", "edit", "rm", "rename", "import", "export")
KINDS: Final = ("commands", "entry-commands", "entries", "handles", "targets")

_BASH: Final = r"""# bash completion for openras and rasdial; load with:
#   source <(openras completion bash)
# or save it as ~/.local/share/bash-completion/completions/openras

_openras_dequote() {
    # A word as the shell will pass it: outer quotes and backslashes removed, ~/ expanded.
    local w=$1
    case $w in \"*\"|\'*\') w=${w:1:${#w}-2} ;; [\"\']*) w=${w:1} ;; esac
    w=${w//\\/}
    [[ $w == "~/"* ]] && w=$HOME/${w:2}
    printf '%s' "$w"
}

_openras_reply() {
    # Completes $2 (default $cur) from $1 (one word per line), each quoted for the shell so
    # that a name with spaces stays one word.
    local w prefix word=${2-$cur} quote=""
    [[ $word == [\"\']* ]] && quote=${word:0:1}
    prefix=$(_openras_dequote "$word")
    COMPREPLY=()
    while IFS= read -r w; do
        [[ -n $w && $w == "$prefix"* ]] || continue
        if [[ -n $quote ]]; then COMPREPLY+=("$w")  # readline closes the open quote
        else COMPREPLY+=("$(printf '%q' "$w")"); fi
    done <<< "$1"
}

_openras_words() {
    # $1 = kind; passes --phonebook/--socket from the command line being completed.
    local i extra=()
    for (( i = 1; i < ${#COMP_WORDS[@]} - 1; i++ )); do
        case ${COMP_WORDS[i]} in
            --phonebook|--socket) extra+=("${COMP_WORDS[i]}" "$(_openras_dequote "${COMP_WORDS[i+1]}")") ;;
        esac
    done
    openras "${extra[@]}" __complete "$1" 2>/dev/null
}

@OPTIONS@

_openras() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i cmd="" sub="" IFS=$'\n'
    case $prev in
        --phonebook|--socket|--state-dir|-o|--output)
            _openras_reply "$(compgen -f -- "$(_openras_dequote "$cur")")"; return ;;
        @VALUED@)
            return ;;
    esac
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case ${COMP_WORDS[i]} in
            @VALUED@|--phonebook|--socket|--state-dir|-o|--output) (( i++ )) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}
               elif [[ $cmd == entry && -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_openras_options "$cmd" "$sub")" -- "$cur"))  # one per line
        return
    fi
    case $cmd in
        "") _openras_reply "$(_openras_words commands)" ;;
        dial) _openras_reply "$(_openras_words entries)" ;;
        hangup|status|stats|watch) _openras_reply "$(_openras_words targets)" ;;
        completion) COMPREPLY=($(compgen -W $'bash\nzsh' -- "$cur")) ;;
        entry)
            case $sub in
                "") _openras_reply "$(_openras_words entry-commands)" ;;
                import) _openras_reply "$(compgen -f -- "$(_openras_dequote "$cur")")" ;;
                add) ;;
                *) _openras_reply "$(_openras_words entries)" ;;
            esac ;;
    esac
}
complete -F _openras openras

_rasdial() {
    # bash splits /PHONEBOOK:file at the colon (COMP_WORDBREAKS); glue such words back.
    local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' i w logical=() last=""
    for (( i = 1; i <= COMP_CWORD; i++ )); do
        w=${COMP_WORDS[i]}
        if (( ${#logical[@]} )) && { [[ $w == : ]] || [[ $last == *: && ${logical[-1]} == /* ]]; }; then
            logical[-1]+=$w
        else
            logical+=("$w")
        fi
        last=$w
    done
    local word=${logical[-1]} book="" n=0
    for w in "${logical[@]:0:${#logical[@]}-1}"; do
        case ${w^^} in
            /PHONEBOOK:?*) book=$(_openras_dequote "${w#*:}") ;;
            /*) ;;
            *) (( n++ )) ;;
        esac
    done
    case ${word^^} in
        /PHONEBOOK:*)
            local value=${word#*:} keep
            keep=${cur%"$value"}
            _openras_reply "$(compgen -f -- "$(_openras_dequote "$value")")" "$value"
            COMPREPLY=("${COMPREPLY[@]/#/$keep}") ;;
        /*:*) ;;  # the value of /DOMAIN: /PHONE: /CALLBACK: is the user's to type
        /*)
            COMPREPLY=($(compgen -W $'/DISCONNECT\n/DOMAIN:\n/PHONE:\n/CALLBACK:\n/PHONEBOOK:\n/PREFIXSUFFIX\n/?' -- "${word^^}")) ;;
        *)
            local extra=()
            [[ -n $book ]] && extra=(--phonebook "$book")
            (( n == 0 )) && _openras_reply "$(openras "${extra[@]}" __complete entries 2>/dev/null)" ;;
    esac
}
complete -F _rasdial rasdial
"""

_ZSH: Final = r"""#compdef openras rasdial
# zsh completion for openras and rasdial; load with:
#   source <(openras completion zsh)
# or save it as _openras in a directory of your $fpath

_openras_words() {
    local -a extra
    local i
    for (( i = 2; i < CURRENT; i++ )); do
        case ${words[i]} in
            --phonebook|--socket) extra+=(${words[i]} ${(Q)words[i+1]}) ;;
        esac
    done
    openras $extra __complete $1 2>/dev/null
}

@OPTIONS@

_openras() {
    local i cmd="" sub=""
    case ${words[CURRENT-1]} in
        --phonebook|--socket|--state-dir|-o|--output) _files; return ;;
        @VALUED@) return ;;
    esac
    for (( i = 2; i < CURRENT; i++ )); do
        case ${words[i]} in
            @VALUED@|--phonebook|--socket|--state-dir|-o|--output) (( i++ )) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${words[i]}
               elif [[ $cmd == entry && -z $sub ]]; then sub=${words[i]}; fi ;;
        esac
    done
    if [[ ${words[CURRENT]} == -* ]]; then
        compadd -- ${(f)"$(_openras_options "$cmd" "$sub")"}
        return
    fi
    case $cmd in
        "") compadd -- ${(f)"$(_openras_words commands)"} ;;
        dial) compadd -- ${(f)"$(_openras_words entries)"} ;;
        hangup|status|stats|watch) compadd -- ${(f)"$(_openras_words targets)"} ;;
        completion) compadd -- bash zsh ;;
        entry)
            case $sub in
                "") compadd -- ${(f)"$(_openras_words entry-commands)"} ;;
                import) _files ;;
                add) ;;
                *) compadd -- ${(f)"$(_openras_words entries)"} ;;
            esac ;;
    esac
}

_rasdial() {
    local w book="" n=0 i
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        case ${(U)w} in
            /PHONEBOOK:?*) book=${(Q)w#*:} ;;
            /*) ;;
            *) (( n++ )) ;;
        esac
    done
    case ${(U)words[CURRENT]} in
        /PHONEBOOK:*) compset -P '*:'; _files ;;
        /*:*) ;;
        /*) compadd -- /DISCONNECT /DOMAIN: /PHONE: /CALLBACK: /PHONEBOOK: /PREFIXSUFFIX '/?' ;;
        *) if (( n == 0 )); then
               compadd -- ${(f)"$(openras ${book:+--phonebook} ${book:+$book} __complete entries 2>/dev/null)"}
           fi ;;
    esac
}

if [[ $service == rasdial ]]; then _rasdial "$@"
elif [[ -n $service ]]; then _openras "$@"
else compdef _openras openras; compdef _rasdial rasdial
fi
"""

#: Options that take a file name: completed as files rather than left alone.
_FILE_OPTIONS: Final = frozenset({"--phonebook", "--socket", "--state-dir", "-o", "--output"})


def option_table(parser: argparse.ArgumentParser) -> tuple[dict[str, list[str]], list[str]]:
    """Each command's options (``"entry show"`` for actions; ``""`` for the top level) and
    the options that take a value, read from the real ``openras`` parser so completion
    cannot drift."""
    table: dict[str, list[str]] = {}
    valued: set[str] = set()

    def walk(parser: argparse.ArgumentParser, key: str) -> None:
        opts: list[str] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    if not name.startswith("_"):
                        walk(child, f"{key} {name}".strip())
            elif action.option_strings:
                opts += [o for o in action.option_strings if o.startswith("--")]
                if action.nargs != 0:
                    valued.update(action.option_strings)
        table[key] = opts

    walk(parser, "")
    return table, sorted(valued - _FILE_OPTIONS)


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (bash or zsh), for the commands of ``parser``."""
    template = _BASH if shell == "bash" else _ZSH
    table, valued = option_table(parser)
    say = "printf '%s\\n'" if shell == "bash" else "print -l --"  # one option per line

    def arm(key: str) -> str:
        return f"{say} {' '.join(table[key])}"

    arms = "".join(f'        "{k}") {arm(k)} ;;\n' for k in table if k)
    fn = (
        "_openras_options() {\n    # $1 = command, $2 = entry action: the options it takes.\n"
        f'    case "${{1}}${{2:+ $2}}" in\n{arms}        *) {arm("")} ;;\n    esac\n}}'
    )
    return template.replace("@OPTIONS@", fn).replace("@VALUED@", "|".join(valued))


def cmd_complete(args: Namespace) -> int:
    """Words for the completion scripts; any failure just yields no words."""
    try:
        words = _words(args)
    except Exception:
        words = []
    sys.stdout.write("".join(f"{w}\n" for w in words))
    return 0


def _words(args: Namespace) -> list[str]:
    if args.kind == "commands":
        return list(COMMANDS)
    if args.kind == "entry-commands":
        return list(ENTRY_COMMANDS)
    if args.kind == "entries":
        from openras.phonebook import load, phonebooks_for

        return [e.name for path, _ in phonebooks_for(args.phonebook) for e in load(path)]
    from openras.cli._connect import connection_fields  # a listing's light path: each TAB

    conns = connection_fields(args.socket, 2.0, include_pending=True, autostart=False)
    handles = [str(c["handle"]) for c in conns]
    if args.kind == "handles":
        return handles
    return handles + sorted({c["entry"] for c in conns})
