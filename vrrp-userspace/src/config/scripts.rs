//! Script security, exactly as keepalived 2.2.7 checks it at startup (lib/notify.c
//! `check_script_secure`, `check_security`; vrrp.c `check_vrrp_script_security`): which user
//! runs each script, whether the script is found, whether it is executable, and - when it runs
//! as root - whether any directory on its path (or the file) can be written by someone else.
//! What keepalived disables is removed from the configuration here; `-t` exits 6 only where
//! keepalived does: a script was found and `enable_script_security` is not set.
//!
//! The host (files, users) is behind [`ScriptHost`] so that tests can describe one.

use std::path::{Path, PathBuf};

use super::Loaded;
use super::diagnostic::{Diagnostic, Severity};
use super::model::{Config, Notify, ScriptCommand};

/// What `lstat`/`stat` tell about a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub uid: u32,
    pub gid: u32,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
}

impl FileInfo {
    const TYPE: u32 = 0o170_000;

    pub fn is_dir(&self) -> bool {
        self.mode & Self::TYPE == 0o040_000
    }

    pub fn is_file(&self) -> bool {
        self.mode & Self::TYPE == 0o100_000
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & Self::TYPE == 0o120_000
    }
}

/// The host facts the check needs.
pub trait ScriptHost {
    /// `lstat`: the path itself, a symbolic link not followed.
    fn lstat(&self, path: &Path) -> Option<FileInfo>;
    /// `stat`: links followed.
    fn stat(&self, path: &Path) -> Option<FileInfo>;
    /// `realpath`: `.`, `..`, repeated `/` and links resolved; `None` if it does not exist.
    fn realpath(&self, path: &Path) -> Option<PathBuf>;
    /// A user's uid and primary gid.
    fn user(&self, name: &str) -> Option<(u32, u32)>;
    fn group(&self, name: &str) -> Option<u32>;
    /// `$PATH` (keepalived searches it for a command without a `/`).
    fn search_path(&self) -> String;
}

/// The machine this process runs on.
pub struct RealHost;

fn info(metadata: std::fs::Metadata) -> FileInfo {
    use std::os::unix::fs::MetadataExt as _;
    FileInfo {
        uid: metadata.uid(),
        gid: metadata.gid(),
        mode: metadata.mode(),
    }
}

impl ScriptHost for RealHost {
    fn lstat(&self, path: &Path) -> Option<FileInfo> {
        std::fs::symlink_metadata(path).ok().map(info)
    }

    fn stat(&self, path: &Path) -> Option<FileInfo> {
        std::fs::metadata(path).ok().map(info)
    }

    fn realpath(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }

    fn user(&self, name: &str) -> Option<(u32, u32)> {
        lookup_user(name)
    }

    fn group(&self, name: &str) -> Option<u32> {
        lookup_group(name)
    }

    fn search_path(&self) -> String {
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/bin:/usr/bin".to_string())
    }
}

/// A user's uid and primary gid from the passwd database (NSS, as keepalived's `getpwnam`).
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is plain data filled by getpwnam_r.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: every pointer refers to live buffers of the given sizes.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some((entry.pw_uid, entry.pw_gid))
}

/// A group's gid from the group database.
fn lookup_group(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16384];
    // SAFETY: group is plain data filled by getgrnam_r.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: every pointer refers to live buffers of the given sizes.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(entry.gr_gid)
}

/// A user (and optional group instead of its primary one) as `(uid, gid)`.
pub fn account(
    host: &dyn ScriptHost,
    user: &str,
    group: Option<&str>,
) -> Result<(u32, u32), String> {
    let (uid, gid) = host
        .user(user)
        .ok_or_else(|| format!("user {user} does not exist"))?;
    match group {
        Some(group) => Ok((
            uid,
            host.group(group)
                .ok_or_else(|| format!("group {group} does not exist"))?,
        )),
        None => Ok((uid, gid)),
    }
}

/// What keepalived's `check_script_secure` finds about one script (its SC_* flags), with the
/// reasons. The one check both `-t` ([`check_config`]) and the daemon (daemon/security.rs)
/// use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// SC_SYSTEM: `</dev/tcp/...`, a redirection that runs nothing.
    pub system: bool,
    pub not_found: bool,
    /// SC_ISSCRIPT: found.
    pub found: bool,
    pub executable: bool,
    /// SC_INSECURE, with the first path component that makes it so and why.
    pub insecure: Option<(PathBuf, String)>,
    /// SC_INHIBIT: not to be run.
    pub inhibit: bool,
    /// The reason keepalived gives for disabling or not finding it.
    pub reason: Option<String>,
}

/// `check_security`: every prefix of `path` (from `/`) must be root's and, unless a directory
/// with the sticky bit, not writable by a non-root group or by others; the last component must
/// be a file or a link, the others directories.
fn check_path(host: &dyn ScriptHost, path: &Path, security: bool, verdict: &mut Verdict) {
    let text = path.to_string_lossy();
    let mut prefixes: Vec<String> = Vec::new();
    let mut next = 0;
    while let Some(offset) = text[next..].find('/') {
        let slash = next + offset;
        prefixes.push(if slash == 0 {
            "/".to_string()
        } else {
            text[..slash].to_string()
        });
        next = slash + 1;
    }
    prefixes.push(text.to_string());
    let last = prefixes.len() - 1;
    for (index, prefix) in prefixes.iter().enumerate() {
        let Some(file) = host.lstat(Path::new(prefix)) else {
            verdict.not_found = true;
            verdict.reason = Some(format!("{prefix} cannot be found"));
            return;
        };
        let is_last = index == last;
        if (!is_last && !file.is_dir()) || (is_last && !file.is_file() && !file.is_symlink()) {
            verdict.inhibit = true;
            verdict.reason = Some(format!(
                "{prefix} is not a {}",
                if is_last { "file" } else { "directory" }
            ));
            return;
        }
        let checked_kind = (file.is_dir() && file.mode & 0o1000 == 0) || file.is_file();
        let group_writable = file.gid != 0 && file.mode & 0o020 != 0;
        let world_writable = file.mode & 0o002 != 0;
        let why = if file.uid != 0 {
            Some(format!("it is owned by uid {}, not root", file.uid))
        } else if checked_kind && group_writable {
            Some(format!("group {} can write to it", file.gid))
        } else if checked_kind && world_writable {
            Some("anyone can write to it".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            verdict.insecure = Some((PathBuf::from(prefix), why));
            verdict.inhibit |= security;
            return;
        }
    }
}

/// Whether `uid:gid` may execute a file (keepalived's `is_executable`).
fn executable(file: &FileInfo, uid: u32, gid: u32) -> bool {
    if uid == 0 {
        return file.mode & 0o111 != 0;
    }
    if file.uid == uid {
        file.mode & 0o100 != 0
    } else if file.gid == gid {
        file.mode & 0o010 != 0
    } else {
        file.mode & 0o001 != 0
    }
}

/// `check_script_secure` for a script run as `uid:gid`; `argv[0]` may be replaced by the full
/// path keepalived finds (path search, real path).
pub fn check_script(
    host: &dyn ScriptHost,
    argv: &mut [String],
    uid: u32,
    gid: u32,
    security: bool,
) -> Verdict {
    let mut verdict = Verdict::default();
    let program = argv[0].clone();
    if let Some(rest) = program.strip_prefix('<')
        && rest.trim_start_matches([' ', '\t']).starts_with('/')
    {
        verdict.system = true;
        return verdict;
    }
    let mut path = PathBuf::from(&program);
    if !program.contains('/') && (uid, gid) != (0, 0) {
        // keepalived 2.2.7's find_path switches to the script's user first, then calls
        // setgroups, which that user may not do: the search always fails ("Permissions
        // failure for script X in path - disabling"). A bare name only works for root.
        verdict.not_found = true;
        verdict.reason = Some(format!(
            "{program} has no '/', and keepalived 2.2.7 cannot search PATH for a script run as uid {uid} gid {gid} (its setgroups fails after it switched user); give the full path"
        ));
        return verdict;
    }
    if !program.contains('/') {
        let found = host
            .search_path()
            .split(':')
            .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(&program))
            .find(|candidate| host.stat(candidate).is_some_and(|f| f.is_file()));
        match found {
            Some(found) => path = found,
            None => {
                verdict.not_found = true;
                verdict.reason = Some(format!("{program} is not in the PATH"));
                return verdict;
            }
        }
    }
    let Some(real) = host.realpath(&path) else {
        verdict.not_found = true;
        verdict.reason = Some(format!("{} cannot be accessed", path.display()));
        return verdict;
    };
    // keepalived keeps the file name the script was called by when the real path ends in
    // another name but names the same file.
    let mut real_file_path = None;
    let mut new_path = real.clone();
    if real != path && real.file_name() != path.file_name() {
        let same_name = real.with_file_name(path.file_name().unwrap_or_default());
        let same_file = match (host.stat(&real), host.stat(&same_name)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if same_file {
            real_file_path = Some(real.clone());
            new_path = same_name;
        }
    }
    argv[0] = new_path.to_string_lossy().into_owned();
    let Some(file) = host.stat(real_file_path.as_deref().unwrap_or(&new_path)) else {
        verdict.not_found = true;
        verdict.reason = Some(format!("{} cannot be accessed", new_path.display()));
        return verdict;
    };
    verdict.found = true;
    let mut protect = false;
    if executable(&file, uid, gid) {
        verdict.executable = true;
        protect = uid == 0
            || gid == 0
            || (file.uid == 0 && file.mode & 0o100 != 0 && file.mode & 0o4000 != 0)
            || (file.gid == 0 && file.mode & 0o010 != 0 && file.mode & 0o2000 != 0);
    } else {
        verdict.reason = Some(format!(
            "{} is not executable by {uid}:{gid}",
            new_path.display()
        ));
    }
    if !protect {
        return verdict;
    }
    check_path(host, &new_path, security, &mut verdict);
    if let Some(real) = real_file_path
        && verdict.insecure.is_none()
        && !verdict.inhibit
    {
        check_path(host, &real, security, &mut verdict);
    }
    verdict
}

/// Checks every script of a loaded configuration against `host`, as keepalived does at
/// startup, and removes what keepalived would not run.
pub fn check_scripts(loaded: &mut Loaded, host: &dyn ScriptHost) {
    let found = check_config(&mut loaded.config, host);
    loaded.diagnostics.extend(found);
}

fn diagnostic(severity: Severity, message: String, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        severity,
        span: None,
        message,
        hint,
    }
}

/// The scripts of `config`, checked; returns what keepalived would report.
pub fn check_config(config: &mut Config, host: &dyn ScriptHost) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let security = config.global.enable_script_security;
    // The default user: script_user, else keepalived_script if it exists, else root - which
    // script security refuses.
    let default_user: Option<(u32, u32)> = match &config.global.script_user {
        Some(user) => {
            let resolved =
                host.user(user)
                    .and_then(|(uid, gid)| match &config.global.script_group {
                        Some(group) => host.group(group).map(|gid| (uid, gid)),
                        None => Some((uid, gid)),
                    });
            if resolved.is_none() {
                out.push(diagnostic(
                    Severity::Error,
                    format!(
                        "script_user {}{} does not exist on this host; scripts without a user of their own are not run",
                        user,
                        config.global.script_group.as_deref().map(|g| format!(" {g}")).unwrap_or_default()
                    ),
                    None,
                ));
            }
            resolved
        }
        None => match host.user("keepalived_script") {
            Some(user) => Some(user),
            None if security => {
                let has_scripts = !config.scripts.is_empty()
                    || config
                        .instances
                        .iter()
                        .any(|i| i.notify.scripts().next().is_some())
                    || config
                        .sync_groups
                        .iter()
                        .any(|g| g.notify.scripts().next().is_some());
                if has_scripts {
                    out.push(diagnostic(
                        Severity::Error,
                        "enable_script_security without script_user, and no keepalived_script user: scripts are not run".to_string(),
                        Some("add 'script_user USER [GROUP]' to global_defs (keepalived refuses to run scripts as root by default the same way)".to_string()),
                    ));
                }
                None
            }
            None => Some((0, 0)),
        },
    };
    let user_of = |script: &ScriptCommand| -> Result<(u32, u32), String> {
        match &script.user {
            Some(user) => account(host, user, script.group.as_deref()),
            None => default_user.ok_or_else(|| "there is no default script user".to_string()),
        }
    };
    let mut any_found = false;
    let mut insecure: Vec<String> = Vec::new();

    // vrrp_script: errors for what is disabled.
    let mut disabled: Vec<String> = Vec::new();
    for script in &mut config.scripts {
        let name = script.name.clone();
        let (uid, gid) = match user_of(&script.script) {
            Ok(ids) => ids,
            Err(why) => {
                out.push(diagnostic(
                    Severity::Error,
                    format!(
                        "vrrp_script {name} ({}): {why}; the script is removed",
                        script.defined_at
                    ),
                    None,
                ));
                disabled.push(name);
                continue;
            }
        };
        let verdict = check_script(host, &mut script.script.argv, uid, gid, security);
        any_found |= verdict.found;
        if let Some((component, why)) = &verdict.insecure {
            insecure.push(format!(
                "vrrp_script {name} ({}): {} ({why})",
                script.script.argv[0],
                component.display()
            ));
        }
        if verdict.inhibit {
            let why = verdict
                .insecure
                .as_ref()
                .map(|(component, why)| format!("{} is not secure: {why}", component.display()))
                .or(verdict.reason.clone())
                .unwrap_or_default();
            out.push(diagnostic(
                Severity::Error,
                format!("vrrp_script {name} is disabled: {why}"),
                Some("scripts run as root must not be writable by others, nor any directory above them (enable_script_security)".to_string()),
            ));
            disabled.push(name);
        } else if verdict.not_found {
            out.push(diagnostic(
                Severity::Error,
                format!(
                    "vrrp_script {name} is disabled: {}",
                    verdict.reason.clone().unwrap_or_default()
                ),
                None,
            ));
            disabled.push(name);
        } else if !verdict.executable && !verdict.system {
            out.push(diagnostic(
                Severity::Warning,
                format!(
                    "vrrp_script {name} is disabled: {}",
                    verdict.reason.clone().unwrap_or_default()
                ),
                Some(
                    "keepalived disables it the same way (without counting it as an error)"
                        .to_string(),
                ),
            ));
            disabled.push(name);
        }
    }
    config.scripts.retain(|s| !disabled.contains(&s.name));
    for track in config
        .instances
        .iter_mut()
        .map(|i| &mut i.track)
        .chain(config.sync_groups.iter_mut().map(|g| &mut g.track))
    {
        track.scripts.retain(|r| !disabled.contains(&r.name));
    }

    // Notify scripts: what is not run is dropped with a warning (keepalived only logs it).
    let mut notify_slots: Vec<(String, &mut Option<ScriptCommand>)> = Vec::new();
    for instance in &mut config.instances {
        let owner = format!("vrrp_instance {}", instance.name);
        instance_notify_slots(&owner, &mut instance.notify, &mut notify_slots);
    }
    // keepalived checks them before it refuses their instances (the file is refused anyway).
    for (name, notify) in &mut config.refused_notify {
        let owner = format!("vrrp_instance {name} (refused)");
        instance_notify_slots(&owner, notify, &mut notify_slots);
    }
    for group in &mut config.sync_groups {
        let owner = format!("vrrp_sync_group {}", group.name);
        let notify = &mut group.notify;
        for (kind, slot) in [
            ("notify_master", &mut notify.master),
            ("notify_backup", &mut notify.backup),
            ("notify_fault", &mut notify.fault),
            ("notify_stop", &mut notify.stop),
            ("notify", &mut notify.any),
        ] {
            notify_slots.push((format!("{owner} {kind}"), slot));
        }
    }
    for (label, fifo) in [
        ("notify_fifo_script", &mut config.global.notify_fifo),
        (
            "vrrp_notify_fifo_script",
            &mut config.global.vrrp_notify_fifo,
        ),
    ] {
        if let Some(fifo) = fifo {
            notify_slots.push((label.to_string(), &mut fifo.script));
        }
    }
    for (label, slot) in notify_slots {
        let Some(script) = slot else {
            continue;
        };
        let (uid, gid) = match user_of(script) {
            Ok(ids) => ids,
            Err(why) => {
                out.push(diagnostic(
                    Severity::Warning,
                    format!("{label} is not run: {why}"),
                    Some("keepalived drops it the same way (it only logs it)".to_string()),
                ));
                *slot = None;
                continue;
            }
        };
        let verdict = check_script(host, &mut script.argv, uid, gid, security);
        any_found |= verdict.found;
        if let Some((component, why)) = &verdict.insecure {
            insecure.push(format!(
                "{label} ({}): {} ({why})",
                script.argv[0],
                component.display()
            ));
        }
        if verdict.inhibit || verdict.not_found || !verdict.executable {
            let why = verdict
                .insecure
                .as_ref()
                .filter(|_| verdict.inhibit)
                .map(|(component, why)| format!("{} is not secure: {why}", component.display()))
                .or(verdict.reason.clone())
                .unwrap_or_else(|| "a redirection is not a script".to_string());
            out.push(diagnostic(
                Severity::Warning,
                format!("{label} is not run: {why}"),
                Some("keepalived drops it the same way (it only logs it)".to_string()),
            ));
            *slot = None;
        }
    }

    if !security && any_found {
        let mut hint = "add 'enable_script_security' (and 'script_user USER') to global_defs; scripts writable by non-root users then refuse to run as root".to_string();
        if !insecure.is_empty() {
            hint.push_str("; insecure now: ");
            hint.push_str(&insecure.join("; "));
        }
        out.push(diagnostic(
            Severity::ScriptSecurity,
            format!(
                "scripts are configured but enable_script_security is not set{}",
                if insecure.is_empty() {
                    ""
                } else {
                    ", and some are insecure"
                }
            ),
            Some(hint),
        ));
    }
    out
}

/// An instance's notify slots, labelled for diagnostics.
fn instance_notify_slots<'a>(
    owner: &str,
    notify: &'a mut Notify,
    slots: &mut Vec<(String, &'a mut Option<ScriptCommand>)>,
) {
    for (kind, slot) in [
        ("notify_master", &mut notify.master),
        ("notify_backup", &mut notify.backup),
        ("notify_fault", &mut notify.fault),
        ("notify_stop", &mut notify.stop),
        ("notify", &mut notify.any),
        (
            "notify_master_rx_lower_pri",
            &mut notify.master_rx_lower_pri,
        ),
    ] {
        slots.push((format!("{owner} {kind}"), slot));
    }
    if let Some(deleted) = &mut notify.deleted {
        slots.push((format!("{owner} notify_deleted"), deleted));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A made-up host: paths with their lstat info, symbolic links, users.
    #[derive(Default)]
    struct FakeHost {
        files: HashMap<String, FileInfo>,
        links: HashMap<String, String>,
    }

    const DIR: u32 = 0o040_755;
    const FILE: u32 = 0o100_755;

    impl FakeHost {
        fn with(entries: &[(&str, u32, u32, u32)]) -> Self {
            let mut host = Self::default();
            for (path, uid, gid, mode) in entries {
                host.files.insert(
                    (*path).to_string(),
                    FileInfo {
                        uid: *uid,
                        gid: *gid,
                        mode: *mode,
                    },
                );
            }
            host
        }
    }

    impl ScriptHost for FakeHost {
        fn lstat(&self, path: &Path) -> Option<FileInfo> {
            self.files.get(path.to_str()?).copied()
        }
        fn stat(&self, path: &Path) -> Option<FileInfo> {
            let path = path.to_str()?;
            let target = self.links.get(path).map_or(path, String::as_str);
            self.files.get(target).copied()
        }
        fn realpath(&self, path: &Path) -> Option<PathBuf> {
            let path = path.to_str()?;
            let target = self.links.get(path).map_or(path, String::as_str);
            self.files
                .contains_key(target)
                .then(|| PathBuf::from(target))
        }
        fn user(&self, name: &str) -> Option<(u32, u32)> {
            match name {
                "root" => Some((0, 0)),
                "nobody" => Some((65534, 65534)),
                _ => None,
            }
        }
        fn group(&self, name: &str) -> Option<u32> {
            match name {
                "root" => Some(0),
                _ => None,
            }
        }
        fn search_path(&self) -> String {
            "/usr/bin".to_string()
        }
    }

    fn verdict(host: &FakeHost, path: &str, uid: u32, security: bool) -> Verdict {
        let mut argv = vec![path.to_string()];
        check_script(host, &mut argv, uid, uid, security)
    }

    #[test]
    fn a_root_script_in_a_writable_directory_names_that_directory() {
        let host = FakeHost::with(&[
            ("/", 0, 0, DIR),
            ("/srv", 0, 0, 0o040_777),
            ("/srv/check.sh", 0, 0, FILE),
        ]);
        let found = verdict(&host, "/srv/check.sh", 0, true);
        assert!(found.found && found.inhibit);
        let (component, why) = found.insecure.unwrap();
        assert_eq!(component, Path::new("/srv"));
        assert_eq!(why, "anyone can write to it");
        // Without script security it is insecure, but runs.
        assert!(!verdict(&host, "/srv/check.sh", 0, false).inhibit);
        // As another user, the path is not checked.
        assert!(
            verdict(&host, "/srv/check.sh", 65534, true)
                .insecure
                .is_none()
        );
    }

    /// keepalived looks a notify script's user and group up as it reads: one whose group does
    /// not exist is dropped there, and a second line of the same keyword is taken (seed 609).
    #[test]
    fn a_notify_with_an_unknown_group_leaves_its_slot_to_the_next_line() {
        let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n notify \"/bin/a\" root nosuchgroup\n notify /bin/b\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
        let mut diagnostics = super::super::diagnostic::Diagnostics::default();
        let lines = super::super::preprocess::preprocess_text(
            Path::new("k.conf"),
            text,
            &super::super::preprocess_options(&super::super::LoadOptions {
                config_id: "node1".to_string(),
                all_config: false,
            }),
            &mut diagnostics,
        );
        let loaded = super::super::finish(&lines, diagnostics, Some(&FakeHost::default()));
        let notify = &loaded.config.instances[0].notify;
        assert_eq!(notify.any.as_ref().unwrap().argv, ["/bin/b"]);
        assert!(
            loaded
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Warning),
            "{:?}",
            loaded.diagnostics
        );
    }

    /// keepalived's PATH search fails for any script user but root (seed 1000646).
    #[test]
    fn a_bare_name_is_only_searched_for_root() {
        let host = FakeHost::with(&[
            ("/", 0, 0, DIR),
            ("/usr", 0, 0, DIR),
            ("/usr/bin", 0, 0, DIR),
            ("/usr/bin/true", 0, 0, FILE),
        ]);
        assert!(verdict(&host, "true", 0, false).found);
        let nobody = verdict(&host, "true", 65534, false);
        assert!(nobody.not_found && !nobody.found, "{nobody:?}");
        assert!(verdict(&host, "/usr/bin/true", 65534, false).found);
    }

    #[test]
    fn sticky_directories_and_root_groups_are_secure() {
        let host = FakeHost::with(&[
            ("/", 0, 0, DIR),
            ("/tmp", 0, 0, 0o041_777),
            ("/tmp/a.sh", 0, 0, 0o100_775),
        ]);
        assert!(verdict(&host, "/tmp/a.sh", 0, true).insecure.is_none());
    }

    #[test]
    fn missing_redirection_and_path_search() {
        let host = FakeHost::with(&[
            ("/", 0, 0, DIR),
            ("/usr", 0, 0, DIR),
            ("/usr/bin", 0, 0, DIR),
            ("/usr/bin/true", 0, 0, FILE),
        ]);
        assert!(verdict(&host, "/nope.sh", 0, true).not_found);
        assert!(verdict(&host, "</dev/tcp/127.0.0.1/80", 0, true).system);
        let mut argv = vec!["true".to_string()];
        let found = check_script(&host, &mut argv, 0, 0, true);
        assert!(found.found && found.executable);
        assert_eq!(argv[0], "/usr/bin/true");
    }
}
