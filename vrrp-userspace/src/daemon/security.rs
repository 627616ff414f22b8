//! Script commands checked once at startup, as keepalived 2.2.7 does (lib/notify.c
//! check_script_secure, the check of [`crate::config::scripts`] that `-t` uses too): who runs the script (its `user`/`group`, else `script_user`, else the
//! `keepalived_script` user if it exists, else root), the program found (a bare name is looked
//! up in PATH, with a warning), that it is executable for that user, and, when it runs as
//! root, that no path component is writable by anyone but root. With
//! `enable_script_security` such a script is refused (named, with the component at fault);
//! without it, it runs and a warning says why it should not.
//!
//! No shell is involved unless the line needs one: a line that is only a redirection
//! (`</dev/tcp/...`), or a script file without `#!` (keepalived runs those through `system()`).

use std::path::{Path, PathBuf};

use super::child::Launch;
use crate::config::model::ScriptCommand;
use crate::config::scripts::{self, RealHost};

/// A user and group scripts run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// The global script settings (`script_user`, `enable_script_security`) and what they
/// resolve to on this host.
#[derive(Clone, Debug)]
pub struct ScriptPolicy {
    pub security: bool,
    /// `None` when no default user can be used (keepalived: with `enable_script_security`,
    /// no `script_user` and no `keepalived_script` user, scripts without a user are ignored).
    pub default: Option<Account>,
    /// Why there is no default user.
    pub default_problem: Option<String>,
}

impl ScriptPolicy {
    pub fn new(
        security: bool,
        script_user: Option<&str>,
        script_group: Option<&str>,
    ) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let ours = Account {
            // SAFETY: no preconditions.
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
        };
        let (default, default_problem) = match script_user {
            Some(user) => match account(user, script_group) {
                Ok(account) => (Some(account), None),
                Err(e) => {
                    let problem = format!("script_user {user}: {e}");
                    warnings.push(format!(
                        "{problem}; scripts without their own user are not run"
                    ));
                    (None, Some(problem))
                }
            },
            None => match account("keepalived_script", None) {
                Ok(account) => (Some(account), None),
                Err(_) if security => {
                    let problem = "enable_script_security is set, but there is no script_user and no keepalived_script user (keepalived refuses such scripts too)".to_owned();
                    warnings.push(format!("{problem}; create the user, or set script_user"));
                    (None, Some(problem))
                }
                Err(_) => (Some(ours), None),
            },
        };
        (
            Self {
                security,
                default,
                default_problem,
            },
            warnings,
        )
    }
}

/// A command ready to run, and what was said about it.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub launch: Launch,
    pub warnings: Vec<String>,
    /// The path component a non-root user could change (the script runs anyway: security is
    /// off).
    pub insecure: Option<String>,
}

/// Why a command will not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0}")]
    NoUser(String),
    #[error("{program}: {reason}")]
    NotInPath { program: String, reason: String },
    #[error("{path}: {reason}")]
    Inaccessible { path: String, reason: String },
    #[error("{path} is not executable for uid {uid} gid {gid}")]
    NotExecutable { path: String, uid: u32, gid: u32 },
    #[error(
        "{path} runs as root but {component} can be modified by a non-root user ({why}); enable_script_security refuses it"
    )]
    Insecure {
        path: String,
        component: String,
        why: String,
    },
}

/// Checks one configured command.
pub fn prepare(command: &ScriptCommand, policy: &ScriptPolicy) -> Result<Prepared, Refused> {
    let account = match &command.user {
        Some(user) => account(user, command.group.as_deref())
            .map_err(|e| Refused::NoUser(format!("user {user}: {e}")))?,
        None => policy
            .default
            .clone()
            .ok_or_else(|| Refused::NoUser(policy.default_problem.clone().unwrap_or_default()))?,
    };
    let display = command.argv.join(" ");
    let mut warnings = Vec::new();
    if let Some(word) = command.argv.iter().skip(1).find(|w| {
        matches!(
            w.as_str(),
            "|" | "||" | "&&" | ";" | "&" | ">" | ">>" | "<" | "2>&1"
        )
    }) {
        warnings.push(format!(
            "'{display}': '{word}' is passed to the program as an argument, not read by a shell (keepalived does the same); write \"/bin/sh -c '...'\" for a shell line"
        ));
    }
    let first = &command.argv[0];
    // keepalived's check_script_secure, the one the configuration check uses too.
    let mut argv = command.argv.clone();
    let verdict = scripts::check_script(
        &RealHost,
        &mut argv,
        account.uid,
        account.gid,
        policy.security,
    );
    if verdict.system {
        // keepalived: a line starting with `</` only tests that a file can be opened: it goes
        // to the shell as is.
        return Ok(Prepared {
            launch: Launch {
                program: PathBuf::from("/bin/sh"),
                args: command.argv.clone(),
                shell_line: true,
                uid: account.uid,
                gid: account.gid,
                display,
            },
            warnings,
            insecure: None,
        });
    }
    if verdict.not_found {
        return Err(if first.contains('/') {
            Refused::Inaccessible {
                path: first.clone(),
                reason: verdict.reason.unwrap_or_default(),
            }
        } else {
            Refused::NotInPath {
                program: first.clone(),
                reason: verdict.reason.unwrap_or_default(),
            }
        });
    }
    let configured = PathBuf::from(&argv[0]);
    if !first.contains('/') {
        warnings.push(format!(
            "script '{first}' found by a PATH search at {}; give the full path",
            configured.display()
        ));
    }
    match (&verdict.insecure, verdict.inhibit) {
        (Some((component, why)), true) => {
            return Err(Refused::Insecure {
                path: configured.display().to_string(),
                component: component.display().to_string(),
                why: why.clone(),
            });
        }
        (None, true) => {
            return Err(Refused::Inaccessible {
                path: configured.display().to_string(),
                reason: verdict.reason.unwrap_or_default(),
            });
        }
        _ => {}
    }
    if !verdict.executable {
        return Err(Refused::NotExecutable {
            path: configured.display().to_string(),
            uid: account.uid,
            gid: account.gid,
        });
    }
    let insecure = verdict.insecure.map(|(component, why)| {
        let component = component.display().to_string();
        warnings.push(format!(
            "{} runs as root but {component} can be modified by a non-root user ({why}); enable_script_security would refuse it",
            configured.display()
        ));
        component
    });
    let real = std::fs::canonicalize(&configured).unwrap_or_else(|_| configured.clone());
    let mut args: Vec<String> = command.argv[1..].to_vec();
    let program = if has_interpreter_or_binary(&real) {
        configured
    } else {
        // execve would fail with ENOEXEC; keepalived runs such a file through system().
        warnings.push(format!(
            "{} has no #! line; it is run with /bin/sh",
            configured.display()
        ));
        args.insert(0, configured.display().to_string());
        PathBuf::from("/bin/sh")
    };
    Ok(Prepared {
        launch: Launch {
            program,
            args,
            shell_line: false,
            uid: account.uid,
            gid: account.gid,
            display,
        },
        warnings,
        insecure,
    })
}

/// An ELF binary or a file starting with `#!`: execve runs it as is.
fn has_interpreter_or_binary(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 4];
    let Ok(mut file) = std::fs::File::open(path) else {
        // Unreadable for root: let execve decide.
        return true;
    };
    let n = file.read(&mut head).unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n].starts_with(b"\x7fELF")
}

/// A user (and optional group) from the passwd and group databases.
pub fn account(user: &str, group: Option<&str>) -> Result<Account, String> {
    let (uid, gid) = scripts::account(&RealHost, user, group)?;
    Ok(Account { uid, gid })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn policy(security: bool) -> ScriptPolicy {
        ScriptPolicy {
            security,
            default: Some(Account { uid: 0, gid: 0 }),
            default_problem: None,
        }
    }

    fn command(argv: &[&str]) -> ScriptCommand {
        ScriptCommand {
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            user: None,
            group: None,
        }
    }

    /// A root-owned 0755 directory under /tmp (itself sticky, so safe) with a script.
    fn script_dir(tag: &str, dir_mode: u32, file: &str, file_mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xvrrpd-sec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(dir_mode)).unwrap();
        let path = dir.join("check.sh");
        std::fs::write(&path, file).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file_mode)).unwrap();
        path
    }

    #[test]
    fn a_bare_name_is_found_in_path_with_a_warning() {
        let prepared = prepare(&command(&["true"]), &policy(true)).unwrap();
        assert!(prepared.launch.program.ends_with("true"));
        assert!(prepared.launch.program.is_absolute());
        assert!(prepared.warnings.iter().any(|w| w.contains("PATH search")));
        assert!(matches!(
            prepare(&command(&["no-such-program-xvrrpd"]), &policy(true)).unwrap_err(),
            Refused::NotInPath { program, .. } if program == "no-such-program-xvrrpd"
        ));
        // keepalived 2.2.7 cannot search PATH for another user than root.
        let as_nobody = ScriptCommand {
            user: Some("nobody".into()),
            ..command(&["true"])
        };
        assert!(matches!(
            prepare(&as_nobody, &policy(true)).unwrap_err(),
            Refused::NotInPath { reason, .. } if reason.contains("setgroups")
        ));
    }

    #[test]
    fn a_world_writable_directory_is_named_and_refused_with_security() {
        let path = script_dir("ww", 0o777, "#!/bin/sh\nexit 0\n", 0o755);
        let dir = path.parent().unwrap().display().to_string();
        match prepare(&command(&[path.to_str().unwrap()]), &policy(true)) {
            Err(Refused::Insecure { component, why, .. }) => {
                assert_eq!(component, dir);
                assert_eq!(why, "anyone can write to it");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Without security it runs, with a warning naming the same component.
        let prepared = prepare(&command(&[path.to_str().unwrap()]), &policy(false)).unwrap();
        assert_eq!(prepared.insecure.as_deref(), Some(dir.as_str()));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_group_writable_script_is_refused_and_a_safe_one_runs_without_a_shell() {
        let path = script_dir("gw", 0o755, "#!/bin/sh\nexit 0\n", 0o775);
        // Root's group writing is fine; another group's is not.
        std::os::unix::fs::chown(&path, None, Some(1)).unwrap();
        let refused = prepare(&command(&[path.to_str().unwrap()]), &policy(true)).unwrap_err();
        assert!(
            matches!(&refused, Refused::Insecure { component, .. } if *component == path.display().to_string()),
            "{refused}"
        );
        std::os::unix::fs::chown(&path, None, Some(0)).unwrap();
        let prepared = prepare(&command(&[path.to_str().unwrap(), "a b"]), &policy(true)).unwrap();
        assert_eq!(prepared.launch.program, path);
        assert_eq!(prepared.launch.args, ["a b"]);
        assert!(prepared.warnings.is_empty(), "{:?}", prepared.warnings);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_script_without_shebang_goes_through_sh_and_a_redirection_line_is_a_shell_line() {
        let path = script_dir("nosb", 0o755, "exit 0\n", 0o755);
        let prepared = prepare(&command(&[path.to_str().unwrap()]), &policy(true)).unwrap();
        assert_eq!(prepared.launch.program, Path::new("/bin/sh"));
        assert_eq!(prepared.launch.args, [path.display().to_string()]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        let redirect = prepare(&command(&["</dev/null"]), &policy(true)).unwrap();
        assert!(redirect.launch.shell_line);
    }

    #[test]
    fn shell_operators_as_arguments_are_warned_about() {
        let prepared = prepare(&command(&["true", "||", "false"]), &policy(false)).unwrap();
        assert!(prepared.warnings.iter().any(|w| w.contains("'||'")));
    }

    #[test]
    fn a_user_and_group_are_switched_to() {
        let nobody = account("nobody", Some("nogroup")).unwrap();
        let mut cmd = command(&["/usr/bin/id"]);
        cmd.user = Some("nobody".into());
        cmd.group = Some("nogroup".into());
        let prepared = prepare(&cmd, &policy(true)).unwrap();
        assert_eq!(
            (prepared.launch.uid, prepared.launch.gid),
            (nobody.uid, nobody.gid)
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let limits = super::super::child::Limits {
            timeout: None,
            grace: std::time::Duration::from_millis(100),
            reap_group: true,
            output_limit: 256,
        };
        let done = runtime
            .block_on(super::super::child::run(
                &prepared.launch,
                &[],
                &limits,
                None,
            ))
            .unwrap();
        let text = done.output_text();
        assert!(
            text.starts_with(&format!(
                "uid={}(nobody) gid={}(nogroup)",
                nobody.uid, nobody.gid
            )),
            "{text}"
        );
        assert!(
            !text.contains("groups=0"),
            "root's groups were kept: {text}"
        );
        assert!(matches!(
            prepare(
                &ScriptCommand {
                    user: Some("no-such-user-xvrrpd".into()),
                    ..command(&["/usr/bin/id"])
                },
                &policy(true)
            ),
            Err(Refused::NoUser(_))
        ));
    }

    #[test]
    fn not_executable_is_refused() {
        let path = script_dir("nx", 0o755, "#!/bin/sh\n", 0o644);
        assert!(matches!(
            prepare(&command(&[path.to_str().unwrap()]), &policy(false)),
            Err(Refused::NotExecutable { .. })
        ));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
