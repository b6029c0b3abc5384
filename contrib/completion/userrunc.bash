# bash completion for userrunc. contrib/completion/generate writes this file
# from userrunc/options.py: change the options there, then run it again.
# Install: copy to /usr/share/bash-completion/completions/userrunc, or source it.

_userrunc_reply() {
    mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

_userrunc_ids() {
    # Container ids under the state root given on the command line (--root), if any.
    local root=() i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        if [[ ${COMP_WORDS[i]} == --root ]]; then root=(--root "${COMP_WORDS[i + 1]}"); fi
    done
    "${COMP_WORDS[0]}" "${root[@]}" list --quiet 2>/dev/null
}

_userrunc() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} command='' i

    # Global options come before the command, which is the first other word.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --root|--log|--log-format|--cgroup-manager|--rootless) ((i++)) ;;
        -*) ;;
        *)
            command=${COMP_WORDS[i]}
            break
            ;;
        esac
    done

    if [[ -z $command ]]; then
        case $prev in
        --root) _userrunc_reply -d; return ;;
        --log) _userrunc_reply -f; return ;;
        --log-format) _userrunc_reply -W "text json"; return ;;
        --cgroup-manager) _userrunc_reply -W "cgroupfs systemd disabled"; return ;;
        --rootless) _userrunc_reply -W "true false auto"; return ;;
        esac
        if [[ $cur == -* ]]; then
            _userrunc_reply -W "--root --log --log-format --debug --systemd-cgroup --cgroup-manager --rootless --help --version"
        else
            _userrunc_reply -W "create start run state kill delete list spec exec pause resume ps features doctor"
        fi
        return
    fi

    local options='' takes_id=''
    case $command in
    create)
        case $prev in
        --bundle|-b) _userrunc_reply -d; return ;;
        --config) _userrunc_reply -f; return ;;
        --pid-file) _userrunc_reply -f; return ;;
        --console-socket) _userrunc_reply -f; return ;;
        --preserve-fds) COMPREPLY=(); return ;;
        esac
        options="--bundle -b --config --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds --help"
        takes_id=1
        ;;
    start)
        options="--help"
        takes_id=1
        ;;
    run)
        case $prev in
        --bundle|-b) _userrunc_reply -d; return ;;
        --config) _userrunc_reply -f; return ;;
        --pid-file) _userrunc_reply -f; return ;;
        --console-socket) _userrunc_reply -f; return ;;
        --preserve-fds) COMPREPLY=(); return ;;
        esac
        options="--bundle -b --config --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds --detach -d --keep --help"
        takes_id=1
        ;;
    state)
        options="--help"
        takes_id=1
        ;;
    kill)
        options="--all -a --help"
        takes_id=1
        ;;
    delete)
        options="--force -f --help"
        takes_id=1
        ;;
    list)
        case $prev in
        --format|-f) _userrunc_reply -W "table json"; return ;;
        esac
        options="--format -f --quiet -q --help"
        ;;
    spec)
        case $prev in
        --bundle|-b) _userrunc_reply -d; return ;;
        esac
        options="--rootless --bundle -b --help"
        ;;
    exec)
        case $prev in
        --process|-p) COMPREPLY=(); return ;;
        --console-socket) _userrunc_reply -f; return ;;
        --cwd) COMPREPLY=(); return ;;
        --env|-e) COMPREPLY=(); return ;;
        --user|-u) COMPREPLY=(); return ;;
        --additional-gids|-g) COMPREPLY=(); return ;;
        --cap|-c) COMPREPLY=(); return ;;
        --apparmor) COMPREPLY=(); return ;;
        --process-label) COMPREPLY=(); return ;;
        --pid-file) _userrunc_reply -f; return ;;
        --preserve-fds) COMPREPLY=(); return ;;
        esac
        options="--process -p --tty -t --detach -d --console-socket --cwd --env -e --user -u --additional-gids -g --cap -c --no-new-privs --apparmor --process-label --pid-file --preserve-fds --ignore-paused --help"
        takes_id=1
        ;;
    pause)
        options="--help"
        takes_id=1
        ;;
    resume)
        options="--help"
        takes_id=1
        ;;
    ps)
        case $prev in
        --format|-f) _userrunc_reply -W "table json"; return ;;
        esac
        options="--format -f --help"
        takes_id=1
        ;;
    features)
        options="--help"
        ;;
    doctor)
        case $prev in
        --format|-f) _userrunc_reply -W "table json"; return ;;
        esac
        options="--format -f --help"
        ;;
    *) return ;;
    esac
    if [[ $cur == -* ]]; then
        _userrunc_reply -W "$options"
    elif [[ -n $takes_id ]]; then
        _userrunc_reply -W "$(_userrunc_ids)"
    fi
}

complete -F _userrunc userrunc
