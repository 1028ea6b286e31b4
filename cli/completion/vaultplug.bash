# bash completion for vaultplug                                   -*- shell-script -*-
# Installed to ${datadir}/bash-completion/completions/vaultplug.

_vaultplug_providers()
{
    vaultplug providers --available --json 2>/dev/null |
        sed -n 's/^ *"name": "\([a-z0-9_]*\)",*$/\1/p'
}

_vaultplug()
{
    local cur prev words cword
    _init_completion || return

    local commands="render get ls refs vault cred login cache config providers version help"
    local common="--quiet --vault-key-file --plugin-dir --help"

    # The command is the first word that is not a global option (or its value).
    local i cmd="" sub="" ci=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --vault-key-file | --plugin-dir) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=${words[i]}
                ci=$i
            elif [[ -z $sub ]]; then
                sub=${words[i]}
            fi
            ;;
        esac
    done

    case $prev in
    --vault-key-file | --env | -e | --output | -o)
        _filedir
        return
        ;;
    --plugin-dir)
        _filedir -d
        return
        ;;
    --type | -t | --field | -f | --tenant | --client-id | --name | -n)
        return
        ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "-v -q --verbose --quiet --version --help $common" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    case $cmd in
    render)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--env --mask --output --json $common" -- "$cur"))
        else
            _filedir
        fi
        ;;
    refs)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--env --json $common" -- "$cur"))
        else
            _filedir
        fi
        ;;
    get)
        COMPREPLY=($(compgen -W "$common" -- "$cur"))
        ;;
    ls)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--json $common" -- "$cur"))
        elif [[ $cur != *:* ]]; then
            # SCHEME:// of each provider; the rest of the prefix is the user's.
            COMPREPLY=($(compgen -W "$(_vaultplug_providers | sed 's|$|://|')" -- "$cur"))
            compopt -o nospace 2>/dev/null
        fi
        ;;
    vault)
        if [[ -z $sub ]]; then
            COMPREPLY=($(compgen -W "init set get list rm rekey reset import-insomnia" -- "$cur"))
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--json --yes --overwrite $common" -- "$cur"))
        elif [[ $sub == import-insomnia ]]; then
            _filedir
        elif [[ $sub == get || $sub == rm || $sub == set ]] && [[ -n ${VAULTPLUG_VAULT_KEY-} ]]; then
            # Names only (never values), and only when the key is already in the environment:
            # completion must never prompt.
            COMPREPLY=($(compgen -W "$(vaultplug vault list 2>/dev/null </dev/null)" -- "$cur"))
        fi
        ;;
    cred)
        if [[ -z $sub ]]; then
            COMPREPLY=($(compgen -W "add list rm clear validate types" -- "$cur"))
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--type --field --no-validate --json --yes $common" -- "$cur"))
        elif [[ $sub == add || $sub == types ]] && ((cword == ci + 2)); then
            COMPREPLY=($(compgen -W "$(_vaultplug_providers)" -- "$cur"))
        fi
        ;;
    login)
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--device-code --tenant --client-id --name $common" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "azure" -- "$cur"))
        fi
        ;;
    cache)
        if [[ -z $sub ]]; then
            COMPREPLY=($(compgen -W "stats reset ttl" -- "$cur"))
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "--json $common" -- "$cur"))
        elif [[ $sub != ttl ]]; then
            COMPREPLY=($(compgen -W "$(_vaultplug_providers)" -- "$cur"))
        fi
        ;;
    config)
        if [[ -z $sub ]]; then
            COMPREPLY=($(compgen -W "show" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
        fi
        ;;
    providers)
        COMPREPLY=($(compgen -W "--available --json $common" -- "$cur"))
        ;;
    help)
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        ;;
    esac
} &&
    complete -F _vaultplug vaultplug

# ex: filetype=sh
