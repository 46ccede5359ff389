//! Shell integration: the snippets Weft loads into bash, zsh and fish so that each command
//! is marked in the output stream (OSC 133 A/B/C/D, the command line as OSC 633;E, the cwd
//! as OSC 7). Nothing in the user's dotfiles is edited: bash gets `--rcfile`, zsh a
//! `ZDOTDIR` whose files source the user's own, fish `--init-command`. The user's startup
//! files run first, as they would in any terminal, and the marks are added after them.
//!
//! Privacy follows the shell's own rules: a command the shell keeps out of its history (a
//! leading space with bash's `ignorespace`, zsh's `HIST_IGNORE_SPACE`, fish's leading space)
//! is not recorded either.

use std::ffi::OsString;
use std::path::Path;

/// Which integration a shell gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellKind {
    /// GNU bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
    /// Anything else: runs without integration (no commands are recorded).
    Other,
}

impl ShellKind {
    /// The kind of the shell at `program`, by its file name.
    pub fn of(program: &str) -> Self {
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.trim_start_matches('-') {
            "bash" => Self::Bash,
            "zsh" => Self::Zsh,
            "fish" => Self::Fish,
            _ => Self::Other,
        }
    }
}

const BASH: &str = r#"# Weft shell integration for bash, loaded with `bash --rcfile`. Your own startup files are
# read first, as an interactive bash reads them; then commands are marked with OSC 133.
if [ -z "${__weft_loaded-}" ]; then
__weft_loaded=1
if [ -n "${WEFT_BASH_STARTUP-}" ]; then
  [ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
  [ -r "$HOME/.bashrc" ] && . "$HOME/.bashrc"
fi
__weft_esc() {
  local s=$1 out= c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      \\) out+='\\\\' ;;
      ';') out+='\x3b' ;;
      [[:cntrl:]]) printf -v c '\\x%02x' "'$c"; out+=$c ;;
      *) out+=$c ;;
    esac
  done
  printf '%s' "$out"
}
__weft_url() {
  local s=$1 out= c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9/._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}
__weft_histnum() {
  local line
  line=$(HISTTIMEFORMAT= builtin history 1)
  [[ $line =~ ^\ *([0-9]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
}
__weft_ps0() {
  local line num= cmd= flag=
  line=$(HISTTIMEFORMAT= builtin history 1)
  if [[ $line =~ ^\ *([0-9]+)\*?\ +(.*)$ ]]; then
    num=${BASH_REMATCH[1]}
    cmd=${BASH_REMATCH[2]}
  fi
  if [ -z "$num" ] || [ "$num" = "${__weft_hist-}" ]; then flag=';unsure'; fi
  printf '\e]633;E;%s%s\a\e]133;C\a' "$(__weft_esc "$cmd")" "$flag"
}
__weft_precmd() {
  local status=$?
  printf '\e]133;D;%s\a\e]7;file://%s%s\a' "$status" "${HOSTNAME:-localhost}" "$(__weft_url "$PWD")"
  __weft_hist=$(__weft_histnum)
  return $status
}
__weft_ps1() {
  local status=$?
  case $PS1 in
    *'133;A'*) ;;
    *) PS1='\[\e]133;A\a\]'"$PS1"'\[\e]133;B\a\]' ;;
  esac
  case ${PS0-} in
    *__weft_ps0*) ;;
    *) PS0='$(__weft_ps0)'"${PS0-}" ;;
  esac
  return $status
}
if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
  PROMPT_COMMAND=(__weft_precmd "${PROMPT_COMMAND[@]}" __weft_ps1)
else
  # Tools often leave a trailing `;` (pyenv's hook does): `a;;b` would be a syntax error.
  __weft_pc=${PROMPT_COMMAND-}
  while [[ $__weft_pc == *[\;[:space:]] ]]; do __weft_pc=${__weft_pc%?}; done
  while [[ $__weft_pc == [\;[:space:]]* ]]; do __weft_pc=${__weft_pc#?}; done
  PROMPT_COMMAND="__weft_precmd${__weft_pc:+;$__weft_pc};__weft_ps1"
  unset __weft_pc
fi
fi
"#;

const ZSHENV: &str = r#"# Weft shell integration for zsh (ZDOTDIR): reads your .zshenv, then zsh goes on to
# Weft's .zshrc, which reads yours.
__weft_zdotdir=$ZDOTDIR
ZDOTDIR=${WEFT_USER_ZDOTDIR:-$HOME}
[[ -r $ZDOTDIR/.zshenv ]] && . $ZDOTDIR/.zshenv
ZDOTDIR=$__weft_zdotdir
"#;

const ZSHRC: &str = r#"# Weft shell integration for zsh: your .zshrc first, then commands are marked with OSC 133.
ZDOTDIR=${WEFT_USER_ZDOTDIR:-$HOME}
unset WEFT_USER_ZDOTDIR
[[ -r $ZDOTDIR/.zshrc ]] && . $ZDOTDIR/.zshrc
__weft_esc() {
  local s=$1 out= c i
  for (( i = 1; i <= ${#s}; i++ )); do
    c=${s[i]}
    case $c in
      \\) out+='\\\\' ;;
      ';') out+='\x3b' ;;
      [[:cntrl:]]) out+=$(printf '\\x%02x' "'$c") ;;
      *) out+=$c ;;
    esac
  done
  print -rn -- "$out"
}
__weft_precmd() {
  local s=$?
  if [[ -n ${__weft_ran-} ]]; then
    printf '\e]133;D;%s\a' $s
    unset __weft_ran
  fi
  printf '\e]7;file://%s%s\a' "${HOST:-localhost}" "${PWD// /%20}"
  return $s
}
__weft_ps1() {
  [[ $PS1 == *'133;A'* ]] || PS1=$'%{\e]133;A\a%}'$PS1$'%{\e]133;B\a%}'
}
__weft_preexec() {
  local flag=
  if [[ $1 == ' '* && -o histignorespace ]]; then flag=';hidden'; fi
  printf '\e]633;E;%s%s\a\e]133;C\a' "$(__weft_esc "$1")" "$flag"
  __weft_ran=1
}
precmd_functions=(__weft_precmd $precmd_functions __weft_ps1)
preexec_functions+=(__weft_preexec)
"#;

const FISH: &str = r#"# Weft shell integration for fish, loaded with --init-command after your config.
function __weft_esc
    string replace -a -- '\\' '\\\\' $argv[1] | string replace -a -- ';' '\\x3b' | string replace -a -- \n '\\x0a' | string collect
end
function __weft_preexec --on-event fish_preexec
    set -l flag ''
    if string match -q -- ' *' $argv[1]
        set flag ';hidden'
    end
    printf '\e]633;E;%s%s\a\e]133;C\a' (__weft_esc $argv[1]) $flag
    set -g __weft_ran 1
end
function __weft_postexec --on-event fish_postexec
    set -l s $status
    printf '\e]133;D;%s\a' $s
    set -e __weft_ran
end
function __weft_cwd --on-event fish_prompt
    printf '\e]7;file://%s%s\a' (hostname) (string replace -a ' ' '%20' -- $PWD)
end
if functions -q fish_prompt
    functions -c fish_prompt __weft_user_prompt
    function fish_prompt
        printf '\e]133;A\a'
        __weft_user_prompt
        printf '\e]133;B\a'
    end
end
"#;

/// Writes the snippets into `dir` (0700) when they are missing or stale.
pub fn install(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let zdot = dir.join("zsh");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&zdot)?;
    for (path, text) in [
        (dir.join("weft.bash"), BASH),
        (zdot.join(".zshenv"), ZSHENV),
        (zdot.join(".zshrc"), ZSHRC),
        (dir.join("weft.fish"), FISH),
    ] {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &path)?;
        }
    }
    Ok(())
}

/// How to start `program` with the integration in `dir`: its arguments and extra environment.
pub fn launch(program: &str, dir: &Path) -> (ShellKind, Vec<OsString>, Vec<(String, OsString)>) {
    let kind = ShellKind::of(program);
    let mut env: Vec<(String, OsString)> = Vec::new();
    let args: Vec<OsString> = match kind {
        ShellKind::Bash => {
            env.push(("WEFT_BASH_STARTUP".into(), "1".into()));
            vec![
                "--rcfile".into(),
                dir.join("weft.bash").into_os_string(),
                "-i".into(),
            ]
        }
        ShellKind::Zsh => {
            let user = std::env::var_os("ZDOTDIR").unwrap_or_default();
            env.push(("WEFT_USER_ZDOTDIR".into(), user));
            env.push(("ZDOTDIR".into(), dir.join("zsh").into_os_string()));
            vec!["-i".into()]
        }
        ShellKind::Fish => {
            let mut init = OsString::from("source ");
            init.push(shell_quote(&dir.join("weft.fish")));
            vec!["--init-command".into(), init, "-i".into()]
        }
        ShellKind::Other => Vec::new(),
    };
    (kind, args, env)
}

fn shell_quote(path: &Path) -> OsString {
    let s = path.to_string_lossy().replace('\'', "'\\''");
    OsString::from(format!("'{s}'"))
}

/// The shell to run: `configured` when set, else `$SHELL`, else the user's login shell from
/// the password database, else `/bin/sh`.
pub fn resolve(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_owned();
    }
    if let Ok(shell) = std::env::var("SHELL") {
        if !shell.trim().is_empty() {
            return shell;
        }
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy out at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if !pw.is_null() && !(*pw).pw_shell.is_null() {
            let shell = std::ffi::CStr::from_ptr((*pw).pw_shell)
                .to_string_lossy()
                .into_owned();
            if !shell.is_empty() {
                return shell;
            }
        }
    }
    "/bin/sh".to_owned()
}
