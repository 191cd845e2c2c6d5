"""Shell completion: ``openras completion bash|zsh`` prints a script; the script asks
``openras __complete KIND`` for the live words (entry names, handles), so completion always
matches the phonebooks and connections of the moment.

``__complete`` never starts a daemon, never fails loudly and prints one word per line.
"""

from __future__ import annotations

import sys
from argparse import Namespace
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
    "daemon",
    "error",
    "completion",
)
ENTRY_COMMANDS: Final = ("show", "add", "edit", "rm", "rename", "import", "export")
KINDS: Final = ("commands", "entry-commands", "entries", "handles", "targets")

_BASH: Final = r"""# bash completion for openras and rasdial; load with:
#   source <(openras completion bash)
# or save it as ~/.local/share/bash-completion/completions/openras

_openras_words() {
    # $1 = kind; passes --phonebook/--socket from the command line being completed.
    local i extra=()
    for (( i = 1; i < ${#COMP_WORDS[@]} - 1; i++ )); do
        case ${COMP_WORDS[i]} in
            --phonebook|--socket) extra+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
        esac
    done
    openras "${extra[@]}" __complete "$1" 2>/dev/null
}

_openras() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i cmd="" sub="" IFS=$'\n'
    case $prev in
        --phonebook|--socket|--state-dir|-o|--output)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --timeout|--user|--domain|--phone|--callback|--password|--set|--unset|--device|--log-level)
            return ;;
    esac
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case ${COMP_WORDS[i]} in
            --phonebook|--socket|--timeout|--state-dir) (( i++ )) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${COMP_WORDS[i]}
               elif [[ $cmd == entry && -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--help --json --phonebook --socket --timeout --no-wait --version" -- "$cur"))
        return
    fi
    case $cmd in
        "") COMPREPLY=($(compgen -W "$(_openras_words commands)" -- "$cur")) ;;
        dial) COMPREPLY=($(compgen -W "$(_openras_words entries)" -- "$cur")) ;;
        hangup|status|stats|watch) COMPREPLY=($(compgen -W "$(_openras_words targets)" -- "$cur")) ;;
        completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
        entry)
            case $sub in
                "") COMPREPLY=($(compgen -W "$(_openras_words entry-commands)" -- "$cur")) ;;
                import) COMPREPLY=($(compgen -f -- "$cur")) ;;
                add) ;;
                *) COMPREPLY=($(compgen -W "$(_openras_words entries)" -- "$cur")) ;;
            esac ;;
    esac
}
complete -F _openras openras

_rasdial() {
    local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n'
    if [[ $cur == /* ]]; then
        COMPREPLY=($(compgen -W "/DISCONNECT /DOMAIN: /PHONE: /CALLBACK: /PHONEBOOK: /PREFIXSUFFIX /?" -- "$cur"))
    elif (( COMP_CWORD == 1 )); then
        COMPREPLY=($(compgen -W "$(openras __complete entries 2>/dev/null)" -- "$cur"))
    fi
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
            --phonebook|--socket) extra+=(${words[i]} ${words[i+1]}) ;;
        esac
    done
    openras $extra __complete $1 2>/dev/null
}

_openras() {
    local i cmd="" sub=""
    case ${words[CURRENT-1]} in
        --phonebook|--socket|--state-dir|-o|--output) _files; return ;;
        --timeout|--user|--domain|--phone|--callback|--password|--set|--unset|--device|--log-level) return ;;
    esac
    for (( i = 2; i < CURRENT; i++ )); do
        case ${words[i]} in
            --phonebook|--socket|--timeout|--state-dir) (( i++ )) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=${words[i]}
               elif [[ $cmd == entry && -z $sub ]]; then sub=${words[i]}; fi ;;
        esac
    done
    if [[ ${words[CURRENT]} == -* ]]; then
        compadd -- --help --json --phonebook --socket --timeout --no-wait --version
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
    if [[ ${words[CURRENT]} == /* ]]; then
        compadd -- /DISCONNECT /DOMAIN: /PHONE: /CALLBACK: /PHONEBOOK: /PREFIXSUFFIX /?
    elif (( CURRENT == 2 )); then
        compadd -- ${(f)"$(openras __complete entries 2>/dev/null)"}
    fi
}

if [[ $service == rasdial ]]; then _rasdial "$@"
elif [[ -n $service ]]; then _openras "$@"
else compdef _openras openras; compdef _rasdial rasdial
fi
"""


def cmd_completion(args: Namespace) -> int:
    sys.stdout.write(_BASH if args.shell == "bash" else _ZSH)
    return 0


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
    from openras.client import Client

    with Client(args.socket, autostart=False, timeout=2.0) as client:
        conns = client.connections(include_pending=True)
    handles = [str(c.handle) for c in conns]
    if args.kind == "handles":
        return handles
    return handles + sorted({c.entry for c in conns})
