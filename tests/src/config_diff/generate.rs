//! keepalived.conf files from the grammar: the keywords of keepalived-compat.md section 3 and
//! keepalived 2.2.7's parser tables, with valid values most of the time and slightly-off ones
//! (odd spellings, missing values, out-of-range numbers, prefixes where an address is taken)
//! some of the time, in varied layouts, using the preprocessor's features. The same seed
//! always gives the same case.

use super::layout::{Layout, Node};
use super::rng::Rng;
use super::values::{self as v, POOL};

/// A script the harness creates before running both programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptFile {
    /// Relative to the case directory.
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// One generated configuration and the world it expects.
#[derive(Clone, Debug)]
pub struct Case {
    pub seed: u64,
    /// The main file; `@DIR@` stands for the case directory.
    pub main: String,
    /// Included files (relative path, text).
    pub includes: Vec<(String, String)>,
    pub scripts: Vec<ScriptFile>,
    /// Plain files (track_file targets): relative path and contents.
    pub files: Vec<(String, String)>,
    /// Directories to create with a mode (relative path, mode).
    pub dirs: Vec<(String, u32)>,
    pub config_id: String,
}

#[derive(Default)]
struct Names {
    scripts: Vec<String>,
    track_files: Vec<String>,
    processes: Vec<String>,
    instances: Vec<String>,
    vip: u32,
}

struct Gen {
    rng: Rng,
    /// Definitions made at the top (`$IF`, `$NET`...), usable by later lines.
    defined: Vec<&'static str>,
    names: Names,
    case: Case,
    /// Percent chance of a slightly-off value for one keyword.
    off: u64,
}

/// Generates the case for `seed`.
pub fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    // Half the files are clean (valid values only), the others noisy.
    let off = *rng.pick(&[0, 0, 0, 0, 1, 2, 4, 8]);
    let config_id = rng.pick(&["node1", "node2"]).to_string();
    let mut g = Gen {
        rng,
        defined: Vec::new(),
        names: Names::default(),
        case: Case {
            seed,
            main: String::new(),
            includes: Vec::new(),
            scripts: Vec::new(),
            files: Vec::new(),
            dirs: vec![
                ("bin".into(), 0o755),
                ("unsafe".into(), 0o777),
                ("sticky".into(), 0o1777),
            ],
            config_id,
        },
        off,
    };
    g.scripts_on_disk();
    let mut nodes = Vec::new();
    g.definitions(&mut nodes);
    if g.rng.chance(75) {
        nodes.push(g.global_defs());
    } else if off == 0 || g.rng.chance(50) {
        nodes.push(Node::block(
            "global_defs",
            vec![
                Node::line("enable_script_security"),
                Node::line("script_user root"),
            ],
        ));
    }
    for _ in 0..g.rng.below(3) {
        nodes.push(g.vrrp_script());
    }
    if g.rng.chance(15) {
        nodes.push(g.track_file_block());
    }
    if g.rng.chance(8) {
        nodes.push(g.track_process_block());
    }
    let count = 1 + g.rng.below(3) as usize;
    let mut instances = Vec::new();
    for index in 0..count {
        instances.push(g.instance(index));
    }
    if g.rng.chance(12) && !instances.is_empty() {
        // Instances moved to an included file.
        let layout = Layout::random(&mut g.rng);
        let text = layout.render(&mut g.rng, &instances[..1]);
        let name = g.rng.pick(&["conf.d/vi.conf", "vi.inc"]).to_string();
        g.case.includes.push((name.clone(), text));
        let pattern = match name.as_str() {
            "conf.d/vi.conf" => g.rng.value(&["conf.d/*.conf", "conf.d/vi.conf"], &[], 0),
            _ => g.rng.value(&["vi.inc", "{vi,other}.inc"], &[], 0),
        };
        instances[0] = Node::Raw(format!("include {pattern}"));
    }
    nodes.extend(instances);
    if g.names.instances.len() >= 2 && g.rng.chance(25) {
        nodes.push(g.sync_group());
    }
    if g.rng.chance(10) {
        nodes.push(g.static_block());
    }
    if g.rng.chance(6) {
        nodes.push(g.garp_group());
    }
    if g.rng.chance(12) {
        nodes.push(g.virtual_server());
    }
    if g.rng.chance(v::plus(off, 3)) {
        nodes.push(Node::line(
            *g.rng.pick(&["unknown_top_keyword 1", "vrrp_instanse X"]),
        ));
    }
    let layout = Layout::random(&mut g.rng);
    g.case.main = layout.render(&mut g.rng, &nodes);
    g.case
}

impl Gen {
    fn off(&mut self) -> u64 {
        self.off
    }

    /// Scripts every case has on disk, with the permissions keepalived's check_script_secure
    /// looks at: secure, world-writable, group-writable by a non-root group, not executable,
    /// setuid, in a world-writable directory, in a sticky directory, owned by a user.
    fn scripts_on_disk(&mut self) {
        let files = [
            ("bin/ok.sh", 0o755, 0, 0),
            ("bin/world.sh", 0o777, 0, 0),
            ("bin/group.sh", 0o775, 0, 100),
            ("bin/rootgroup.sh", 0o775, 0, 0),
            ("bin/noexec.sh", 0o644, 0, 0),
            ("bin/setuid.sh", 0o4755, 65534, 0),
            ("bin/nobody.sh", 0o755, 65534, 65534),
            ("unsafe/in-unsafe.sh", 0o755, 0, 0),
            ("sticky/in-sticky.sh", 0o755, 0, 0),
        ];
        for (path, mode, uid, gid) in files {
            self.case.scripts.push(ScriptFile {
                path: path.to_string(),
                mode,
                uid,
                gid,
            });
        }
        self.case.files.push(("state/track1".into(), "0\n".into()));
        self.case.files.push(("state/track2".into(), "5\n".into()));
    }

    fn script_path(&mut self) -> String {
        let off = self.off();
        self.rng.value(
            &[
                "@DIR@/bin/ok.sh",
                "@DIR@/bin/ok.sh",
                "@DIR@/bin/rootgroup.sh",
                "@DIR@/sticky/in-sticky.sh",
            ],
            &[
                "@DIR@/bin/world.sh",
                "@DIR@/bin/group.sh",
                "@DIR@/bin/noexec.sh",
                "@DIR@/bin/setuid.sh",
                "@DIR@/bin/nobody.sh",
                "@DIR@/unsafe/in-unsafe.sh",
                "@DIR@/bin/missing.sh",
                "@DIR@/bin/../bin/ok.sh",
                "@DIR@//bin/ok.sh",
                "true",
                "/bin/true",
                "nosuchcommand",
            ],
            v::plus(off, 8),
        )
    }

    /// `$NAME=` definitions used by the instances (an interface, an address prefix).
    fn definitions(&mut self, nodes: &mut Vec<Node>) {
        if self.rng.chance(15) {
            nodes.push(Node::Raw("$IF=eth0".into()));
            self.defined.push("IF");
        }
        if self.rng.chance(15) {
            nodes.push(Node::Raw("$NET=10.20.0".into()));
            nodes.push(Node::Raw("$FIRST=3".into()));
            nodes.push(Node::Raw("$LAST=5".into()));
            self.defined.push("NET");
        }
        if self.rng.chance(5) {
            nodes.push(Node::Raw("$CHECK=interval 2 \\".into()));
            nodes.push(Node::Raw("fall 2".into()));
            self.defined.push("CHECK");
        }
    }

    fn global_defs(&mut self) -> Node {
        let mut body = Vec::new();
        let keywords = v::GLOBAL_KEYWORDS;
        if self.off == 0 || self.rng.chance(60) {
            body.push(Node::line("enable_script_security"));
            body.push(Node::line(self.rng.value(
                &["script_user root", "script_user root root"],
                &[],
                0,
            )));
        }
        let count = self.rng.below(6) as usize;
        for _ in 0..count {
            let keyword = *self.rng.pick(keywords);
            if self.off == 0 && matches!(keyword, "lvs_id" | "state_dump_file") {
                continue;
            }
            if let Some(node) = self.global_keyword(keyword) {
                body.push(node);
            }
        }
        Node::block("global_defs", body)
    }

    fn global_keyword(&mut self, keyword: &str) -> Option<Node> {
        let off = self.off();
        let r = &mut self.rng;
        let value = match keyword {
            "router_id" => r.value(&["LVS_DEVEL", "node-a", "r1"], &["", "a b"], off),
            "notification_email" => {
                return Some(Node::block(
                    "notification_email",
                    vec![Node::line("admin@example.com")],
                ));
            }
            "notification_email_from" => r.value(&["keepalived@example.com"], &[], 0),
            "smtp_server" => r.value(
                &["127.0.0.1", "127.0.0.1 25", "::1 2525"],
                &["1.2.3.4 99999"],
                off,
            ),
            "smtp_connect_timeout" => r.value(&["30", "5"], &["0", "x"], off),
            "vrrp_version" => r.value(&["2", "3"], &["4", "1"], off),
            "vrrp_mcast_group4" => r.value(&["224.0.0.18", "239.1.2.3"], &["10.0.0.1"], off),
            "vrrp_mcast_group6" => r.value(&["ff02::12", "ff02::1:2"], &["2001:db8::1"], off),
            "vrrp_garp_master_delay" | "vrrp_garp_lower_prio_delay" => {
                r.value(&["5", "0", "10", "1"], &["-1", "x"], off)
            }
            "vrrp_garp_master_repeat" | "vrrp_garp_lower_prio_repeat" => {
                r.value(&["5", "1", "3"], &["0", "300"], off)
            }
            "vrrp_garp_master_refresh" => r.value(&["0", "60", "10"], &["-1"], off),
            "vrrp_garp_master_refresh_repeat" => r.value(&["1", "2"], &["0"], off),
            "vrrp_garp_interval" | "vrrp_gna_interval" => {
                r.value(&["0.001", "0.01", "1", "0"], &["x", "2000"], off)
            }
            "vrrp_down_timer_adverts" => r.value(&["3", "5"], &["0", "200"], off),
            "vrrp_strict"
            | "vrrp_skip_check_adv_addr"
            | "vrrp_check_unicast_src"
            | "vrrp_min_garp"
            | "vrrp_notify_priority_changes"
            | "vrrp_lower_prio_no_advert"
            | "vrrp_higher_prio_send_advert"
            | "enable_script_security"
            | "vrrp_no_swap" => {
                if r.chance(70) {
                    String::new()
                } else {
                    v::flag_value(r, off)
                }
            }
            "dynamic_interfaces" => r.value(&["", "", "allow_if_changes"], &["true", "off"], off),
            "script_user" => r.value(
                &["root", "root root", "nobody", "nobody nogroup"],
                &["nosuchuser"],
                off,
            ),
            "default_interface" => r.value(&["eth0", "eth1"], &["eth9"], off),
            "vrrp_startup_delay" => r.value(&["5", "0.5"], &["x"], off),
            "vmac_prefix" => r.value(&["vrrp", "vm"], &[], 0),
            "max_auto_priority" => r.value(&["", "50", "-1"], &["x"], off),
            "vrrp_priority" => r.value(&["-10", "0"], &["-30"], off),
            "vrrp_rt_priority" => r.value(&["50"], &["0"], off),
            "notify_fifo" | "vrrp_notify_fifo" => r.value(&["@DIR@/fifo", "@DIR@/vfifo"], &[], 0),
            "notify_fifo_script" | "vrrp_notify_fifo_script" => self.script_path(),
            "lvs_id" | "state_dump_file" => r.value(&["LVS_1"], &[], 0),
            "smtp_alert" => v::flag_value(r, off),
            "umask" => r.value(&["0077", "022"], &["0999"], off),
            other => unreachable!("no generator for global keyword {other}"),
        };
        Some(Node::line(
            format!("{keyword} {value}").trim_end().to_string(),
        ))
    }

    fn vrrp_script(&mut self) -> Node {
        let name = format!("chk_{}", self.names.scripts.len() + 1);
        self.names.scripts.push(name.clone());
        let mut body = Vec::new();
        let off = self.off();
        if !self.rng.chance(off) {
            body.push(Node::line(self.script_line("script")));
        }
        for keyword in [
            "interval",
            "timeout",
            "weight",
            "rise",
            "fall",
            "user",
            "init_fail",
        ] {
            if !self.rng.chance(35) {
                continue;
            }
            let r = &mut self.rng;
            let value = match keyword {
                "interval" => r.value(&["1", "2", "5"], &["0", "x", "0.5"], off),
                "timeout" => r.value(&["1", "3"], &["x", "0.2"], off),
                "weight" => r.value(
                    &["-20", "10", "-100", "0", "30 reverse", "-5 reverse"],
                    &["- 20", "300", "-254", "abc"],
                    off,
                ),
                "rise" | "fall" => r.value(&["1", "2", "3"], &["0", "x"], off),
                "user" => r.value(&["root", "root root"], &["nosuchuser", "nobody"], off),
                _ => String::new(),
            };
            body.push(Node::line(
                format!("{keyword} {value}").trim_end().to_string(),
            ));
        }
        if self.defined.contains(&"CHECK") && self.rng.chance(50) {
            body.push(Node::Raw("$CHECK".into()));
        }
        Node::block(format!("vrrp_script {name}"), body)
    }

    /// `script`, `notify_*`: a command with or without arguments, quoted in the ways real
    /// files quote it, sometimes with a user and group after it.
    fn script_line(&mut self, keyword: &str) -> String {
        let path = self.script_path();
        let off = self.off();
        let r = &mut self.rng;
        let form = r.below(100);
        let command =
            if path == "true" || path == "/bin/true" || path == "nosuchcommand" || form < 40 {
                path
            } else if form < 65 {
                format!("\"{path} arg1 'two words'\"")
            } else if form < 75 {
                format!("\"{path}\"")
            } else if form < 82 {
                format!("'{path} a b'")
            } else if form < 88 {
                "\"</dev/tcp/127.0.0.1/80\"".to_string()
            } else if form < 94 {
                format!("{path} arg1 arg2")
            } else {
                format!("\"{path} \\\"quoted\\\" x\\ty\"")
            };
        let user = if keyword == "script" {
            String::new()
        } else {
            r.value(
                &["", "", "", " root", " root root"],
                &[" nobody", " nosuchuser", " root nosuchgroup"],
                off,
            )
        };
        format!("{keyword} {command}{user}")
    }

    fn track_file_block(&mut self) -> Node {
        let name = format!("tf_{}", self.names.track_files.len() + 1);
        self.names.track_files.push(name.clone());
        let keyword = self
            .rng
            .value(&["track_file"], &["vrrp_track_file"], 30)
            .to_string();
        let off = self.off();
        let r = &mut self.rng;
        let mut body = vec![Node::line(format!(
            "file {}",
            r.value(
                &["@DIR@/state/track1", "@DIR@/state/track2"],
                &["@DIR@/state/new"],
                off
            )
        ))];
        if r.chance(50) {
            body.push(Node::line(format!(
                "weight {}",
                r.value(&["1", "-10", "5 reverse", "0"], &["300"], off)
            )));
        }
        if r.chance(20) {
            body.push(Node::line(r.value(
                &["init_file", "init_file 3", "init_file 0 overwrite"],
                &[],
                0,
            )));
        }
        Node::block(format!("{keyword} {name}"), body)
    }

    fn track_process_block(&mut self) -> Node {
        let name = format!("proc_{}", self.names.processes.len() + 1);
        self.names.processes.push(name.clone());
        let off = self.off();
        let r = &mut self.rng;
        let mut body = vec![Node::line(format!(
            "process {}",
            r.value(&["sshd", "/usr/sbin/sshd -D", "\"haproxy -f x\""], &[], 0)
        ))];
        for keyword in ["weight", "quorum", "delay", "full_command", "param_match"] {
            if r.chance(30) {
                let value = match keyword {
                    "weight" => r.value(&["10", "-10", "0"], &["x"], off),
                    "quorum" => r.value(&["1", "2"], &["0"], off),
                    "delay" => r.value(&["1", "0.5"], &[], 0),
                    "param_match" => r.value(&["initial", "partial"], &["full"], off),
                    _ => String::new(),
                };
                body.push(Node::line(
                    format!("{keyword} {value}").trim_end().to_string(),
                ));
            }
        }
        Node::block(format!("vrrp_track_process {name}"), body)
    }

    fn instance(&mut self, index: usize) -> Node {
        let name = format!("VI_{}", index + 1);
        self.names.instances.push(name.clone());
        let off = self.off();
        let ipv6 = self.rng.chance(15);
        let mut body = Vec::new();
        let interface = if self.defined.contains(&"IF") && self.rng.chance(60) {
            "$IF".to_string()
        } else {
            self.rng.value(
                &["eth0", "eth0", "eth1", "ens3", "bond0", "br-lan"],
                &["eth9"],
                off,
            )
        };
        // The interface's own subnet, for peers, sources and gateways.
        let subnet = POOL
            .iter()
            .find(|i| i.name == interface || (interface == "$IF" && i.name == "eth0"))
            .map_or("10.10.0", |i| i.subnet);
        if !self.rng.chance(off) {
            body.push(Node::line(format!("interface {interface}")));
        }
        if self.rng.chance(80) {
            body.push(Node::line(format!(
                "state {}",
                self.rng.value(
                    &["MASTER", "BACKUP", "BACKUP"],
                    &["master", "backup", "SLAVE", "Master", "EQUAL"],
                    v::plus(off, 3)
                )
            )));
        }
        if !self.rng.chance(off) {
            let vrid = if index > 0 && self.rng.chance(25) {
                "51".to_string()
            } else {
                self.rng.value(
                    &["51", "52", "1", "255", "100", "7"],
                    &["0", "256", "abc", "51 extra"],
                    off,
                )
            };
            body.push(Node::line(format!("virtual_router_id {vrid}")));
        }
        if self.rng.chance(85) {
            body.push(Node::line(format!(
                "priority {}",
                self.rng.value(
                    &["100", "150", "50", "255", "254", "1"],
                    &["0", "256", "-5", "100.5", "abc"],
                    off
                )
            )));
        }
        let version = if ipv6 && self.rng.chance(70) {
            "3".to_string()
        } else {
            self.rng.value(&["2", "3"], &["4"], off)
        };
        if (self.rng.chance(20) && !ipv6) || (ipv6 && self.rng.chance(60)) {
            body.push(Node::line(format!("version {version}")));
        }
        if self.rng.chance(70) {
            let v3 = version == "3"
                && body
                    .iter()
                    .any(|n| matches!(n, Node::Line(l) if l.starts_with("version")));
            let value = if v3 {
                self.rng.value(
                    &["1", "0.5", "0.1", "0.01", "1.5", "2"],
                    &["0", "41", "0.001"],
                    off,
                )
            } else {
                self.rng.value(
                    &["1", "1", "2", "3", "5"],
                    &["0", "abc", "256", "0.5", "1.5"],
                    off,
                )
            };
            body.push(Node::line(format!("advert_int {value}")));
        }
        if ipv6 && self.rng.chance(20) {
            body.push(Node::line("native_ipv6"));
        }
        body.push(self.vips("virtual_ipaddress", ipv6, subnet, index));
        let unicast = self.rng.chance(25);
        let flags: &[&str] = &[
            "nopreempt",
            "preempt",
            "dont_track_primary",
            "track_src_ip",
            "skip_check_adv_addr",
            "strict_mode",
            "accept",
            "no_accept",
            "promote_secondaries",
            "lower_prio_no_advert",
            "higher_prio_send_advert",
            "unicast_fault_no_peer",
            "check_unicast_src",
            "use_vmac",
            "smtp_alert",
            "notify_priority_changes",
        ];
        for _ in 0..self.rng.below(3) {
            let flag = *self.rng.pick(flags);
            // In a clean file, the unicast-only keywords only with peers, use_vmac only
            // without.
            let misplaced = match flag {
                "unicast_fault_no_peer" | "check_unicast_src" => !unicast,
                "use_vmac" => unicast,
                _ => false,
            };
            if off == 0 && misplaced {
                continue;
            }
            let value = if matches!(
                flag,
                "strict_mode"
                    | "lower_prio_no_advert"
                    | "higher_prio_send_advert"
                    | "smtp_alert"
                    | "notify_priority_changes"
                    | "skip_check_adv_addr"
            ) && self.rng.chance(50)
            {
                format!(" {}", v::flag_value(&mut self.rng, off))
            } else {
                String::new()
            };
            body.push(Node::line(format!("{flag}{value}").trim_end().to_string()));
        }
        if unicast {
            if let Some(peers) = self.instance_keyword("unicast_peer", ipv6, subnet) {
                body.push(peers);
            }
            if self.rng.chance(70)
                && let Some(src) = self.instance_keyword("unicast_src_ip", ipv6, subnet)
            {
                body.push(src);
            }
        }
        let extras = self.rng.below(5);
        for _ in 0..extras {
            let keyword = *self.rng.pick(v::INSTANCE_KEYWORDS);
            let misplaced = match keyword {
                "unicast_ttl" => !unicast,
                "mcast_dst_ip" | "use_vmac" => unicast,
                _ => v::NOT_IN_2_2_7.contains(&keyword),
            };
            if off == 0 && misplaced {
                continue;
            }
            if let Some(node) = self.instance_keyword(keyword, ipv6, subnet) {
                body.push(node);
            }
        }
        Node::block(format!("vrrp_instance {name}"), body)
    }

    fn vips(&mut self, keyword: &str, ipv6: bool, subnet: &str, index: usize) -> Node {
        let off = self.off();
        let mut body = Vec::new();
        let count = 1 + self.rng.below(3);
        for _ in 0..count {
            self.names.vip += 1;
            let n = self.names.vip + 10 * index as u32;
            let shared = self.rng.chance(6);
            let address = if ipv6 {
                let base = if self.rng.chance(20) {
                    format!("fe80::{}", 100 + n)
                } else {
                    format!("2001:db8:10::{}", if shared { 99 } else { 100 + n })
                };
                let len = self.rng.value(&["", "/64", "/128"], &["/129"], off);
                format!("{base}{len}")
            } else {
                let last = if shared { 99 } else { 100 + n };
                let len =
                    self.rng
                        .value(&["", "/24", "/32", "/16"], &["/33", "/255.255.255.0"], off);
                format!("{subnet}.{last}{len}")
            };
            let short = !ipv6 && (address.ends_with("/32") || !address.contains('/'));
            let options = v::address_options(&mut self.rng, ipv6, short, off);
            body.push(Node::line(format!("{address}{options}")));
        }
        if self.rng.chance(10) {
            // Preprocessor-generated addresses.
            let defined = self.defined.contains(&"NET");
            body.push(Node::Raw(v::repetition(&mut self.rng, ipv6, defined)));
        }
        if self.rng.chance(off) {
            body.push(Node::line(if ipv6 {
                "10.10.0.240"
            } else {
                "2001:db8:10::240"
            }));
        }
        Node::block(keyword, body)
    }

    fn instance_keyword(&mut self, keyword: &str, ipv6: bool, subnet: &str) -> Option<Node> {
        let off = self.off();
        let host = |last: u32| -> String {
            if ipv6 {
                format!("2001:db8:10::{last}")
            } else {
                format!("{subnet}.{last}")
            }
        };
        let node = match keyword {
            "virtual_ipaddress_excluded" => {
                let family = self.rng.chance(30) != ipv6;
                self.vips(keyword, family, subnet, 7)
            }
            "virtual_routes" => {
                let count = 1 + self.rng.below(2);
                let body = (0..count)
                    .map(|_| Node::line(v::route(&mut self.rng, ipv6, subnet, off)))
                    .collect();
                Node::block("virtual_routes", body)
            }
            "virtual_rules" => {
                let count = 1 + self.rng.below(2);
                let body = (0..count)
                    .map(|_| Node::line(v::rule(&mut self.rng, ipv6, off)))
                    .collect();
                Node::block("virtual_rules", body)
            }
            "unicast_src_ip" | "mcast_src_ip" => {
                let own = if ipv6 {
                    "2001:db8:10::1".to_string()
                } else {
                    format!("{subnet}.1")
                };
                let value = self.rng.value(
                    &[own.as_str()],
                    &[&format!("{own}/24"), "10.99.0.1", "x"],
                    v::plus(off, 10),
                );
                Node::line(format!("{keyword} {value}"))
            }
            "unicast_peer" => {
                let count = 1 + self.rng.below(2);
                let mut body = Vec::new();
                for i in 0..count {
                    let peer = host(2 + i as u32);
                    let suffix = self.rng.value(
                        &[
                            "",
                            "",
                            " min_ttl 250",
                            " max_ttl 255",
                            " min_ttl 1 max_ttl 254",
                        ],
                        &["/24", "/32", " min_ttl", " ttl 5"],
                        v::plus(off, 5),
                    );
                    body.push(Node::line(format!("{peer}{suffix}")));
                }
                Node::block("unicast_peer", body)
            }
            "mcast_dst_ip" => {
                let value = if ipv6 {
                    self.rng
                        .value(&["ff02::13", "ff02::12"], &["2001:db8::1"], off)
                } else {
                    self.rng.value(
                        &["224.0.0.19", "239.1.1.1", "224.0.0.18"],
                        &["10.0.0.1"],
                        off,
                    )
                };
                Node::line(format!("mcast_dst_ip {value}"))
            }
            "unicast_ttl" => Node::line(format!(
                "unicast_ttl {}",
                self.rng.value(&["255", "64", "1"], &["0", "256"], off)
            )),
            "preempt_delay" => Node::line(format!(
                "preempt_delay {}",
                self.rng
                    .value(&["5", "300", "0.5", "0"], &["1001", "x"], off)
            )),
            "authentication" => {
                let auth_type = self
                    .rng
                    .value(&["PASS", "PASS", "AH"], &["pass", "NONE"], off);
                let pass = self
                    .rng
                    .value(&["secret", "1111", "longpassword12"], &[], 0);
                let mut body = vec![Node::line(format!("auth_type {auth_type}"))];
                if !self.rng.chance(off) {
                    body.push(Node::line(format!("auth_pass {pass}")));
                }
                Node::block("authentication", body)
            }
            "track_interface" => {
                let count = 1 + self.rng.below(2);
                let body = (0..count)
                    .map(|_| {
                        let name =
                            self.rng
                                .value(&["eth1", "ens3", "eth0", "bond0"], &["eth9"], off);
                        let weight = self.rng.value(
                            &[
                                "",
                                " weight 10",
                                " weight -20",
                                " weight 0",
                                " weight 5 reverse",
                            ],
                            &[" weight 300", " weight"],
                            off,
                        );
                        Node::line(format!("{name}{weight}"))
                    })
                    .collect();
                Node::block("track_interface", body)
            }
            "track_script" => {
                let mut names = self.names.scripts.clone();
                names.push("undefined_chk".into());
                if self.names.scripts.is_empty() && off == 0 {
                    return None;
                }
                let body = vec![{
                    let name = if self.names.scripts.is_empty() || self.rng.chance(off) {
                        "undefined_chk".to_string()
                    } else {
                        self.rng.pick(&self.names.scripts).clone()
                    };
                    let weight = self.rng.value(
                        &[
                            "",
                            "",
                            " weight 10",
                            " weight -30",
                            " weight 0",
                            " weight 10 reverse",
                        ],
                        &[" weight - 5", " weight 254"],
                        off,
                    );
                    Node::line(format!("{name}{weight}"))
                }];
                Node::block("track_script", body)
            }
            "track_file" => {
                if self.names.track_files.is_empty() && off == 0 {
                    return None;
                }
                let name = if self.names.track_files.is_empty() {
                    "undefined_tf".to_string()
                } else {
                    self.rng.pick(&self.names.track_files).clone()
                };
                let weight = self
                    .rng
                    .value(&["", " weight 2", " weight -1 reverse"], &[], 0);
                Node::block("track_file", vec![Node::line(format!("{name}{weight}"))])
            }
            "track_process" => {
                let name = if self.names.processes.is_empty() {
                    "undefined_proc".to_string()
                } else {
                    self.rng.pick(&self.names.processes).clone()
                };
                Node::block("track_process", vec![Node::line(name)])
            }
            "notify_master"
            | "notify_backup"
            | "notify_fault"
            | "notify_stop"
            | "notify"
            | "notify_deleted"
            | "notify_master_rx_lower_pri" => {
                if keyword == "notify_deleted" && self.rng.chance(50) {
                    Node::line("notify_deleted")
                } else {
                    Node::line(self.script_line(keyword))
                }
            }
            "garp_master_delay" | "garp_lower_prio_delay" => Node::line(format!(
                "{keyword} {}",
                self.rng.value(&["5", "0", "10", "1"], &["x"], off)
            )),
            "garp_master_repeat" | "garp_lower_prio_repeat" | "garp_master_refresh_repeat" => {
                Node::line(format!(
                    "{keyword} {}",
                    self.rng.value(&["1", "3", "5"], &["0", "300"], off)
                ))
            }
            "garp_master_refresh" => Node::line(format!(
                "garp_master_refresh {}",
                self.rng.value(&["0", "60"], &["x"], off)
            )),
            "down_timer_adverts" => Node::line(format!(
                "down_timer_adverts {}",
                self.rng.value(&["3", "5", "1"], &["0", "101"], off)
            )),
            "debug" => Node::line(
                format!("debug {}", self.rng.value(&["1", "4"], &["5", ""], off))
                    .trim_end()
                    .to_string(),
            ),
            "kernel_rx_buf_size" => Node::line(format!(
                "kernel_rx_buf_size {}",
                self.rng.value(&["65536"], &["x"], off)
            )),
            "old_unicast_checksum" => Node::line(self.rng.value(
                &["old_unicast_checksum", "old_unicast_checksum never"],
                &[],
                0,
            )),
            "use_vmac" => Node::line(self.rng.value(
                &[
                    "use_vmac",
                    "use_vmac vrrp.51",
                    "use_vmac vrrp1 02:00:5e:00:01",
                ],
                &[],
                0,
            )),
            "garp_extra_if" => Node::line(format!(
                "garp_extra_if {}",
                self.rng.value(&["60", "all 30"], &[], 0)
            )),
            "garp_interval"
            | "gna_interval"
            | "lvs_sync_daemon_interface"
            | "prority"
            | "vmac_xmit_base"
            | "linkbeat_use_polling"
            | "no_virtual_ipaddress" => {
                if !self.rng.chance(v::plus(off, 20)) {
                    return None;
                }
                let value = match keyword {
                    "garp_interval" | "gna_interval" => " 1",
                    "lvs_sync_daemon_interface" => " eth0",
                    "prority" => " 100",
                    _ => "",
                };
                Node::line(format!("{keyword}{value}"))
            }
            "@conditional" => {
                let id = self.rng.pick(&["node1", "node2"]).to_string();
                let negated = if self.rng.chance(40) { "^" } else { "" };
                Node::Raw(format!(
                    "@{negated}{id} priority {}",
                    self.rng.pick(&["120", "80"])
                ))
            }
            other => unreachable!("no generator for instance keyword {other}"),
        };
        Some(node)
    }

    fn sync_group(&mut self) -> Node {
        let off = self.off();
        let mut members: Vec<Node> = self
            .names
            .instances
            .clone()
            .into_iter()
            .take(2)
            .map(Node::Line)
            .collect();
        if self.rng.chance(off) {
            members.push(Node::line("VI_UNKNOWN"));
        }
        let mut body = vec![Node::block("group", members)];
        if self.rng.chance(30) {
            body.push(Node::line(self.script_line("notify_master")));
        }
        if self.rng.chance(20) && !self.names.scripts.is_empty() {
            let name = self.rng.pick(&self.names.scripts).clone();
            body.push(Node::block("track_script", vec![Node::line(name)]));
        }
        if self.rng.chance(15) {
            body.push(Node::line("sync_group_tracking_weight"));
        }
        Node::block("vrrp_sync_group G1", body)
    }

    fn static_block(&mut self) -> Node {
        let off = self.off();
        match self.rng.below(3) {
            0 => Node::block(
                "static_ipaddress",
                vec![Node::line(format!(
                    "10.11.0.{}/24 dev eth1{}",
                    200 + self.rng.below(50),
                    v::address_options(&mut self.rng, false, false, off)
                ))],
            ),
            1 => Node::block(
                "static_routes",
                vec![Node::line(v::route(&mut self.rng, false, "10.11.0", off))],
            ),
            _ => Node::block(
                "static_rules",
                vec![Node::line(v::rule(&mut self.rng, false, off))],
            ),
        }
    }

    fn garp_group(&mut self) -> Node {
        let off = self.off();
        let mut body = vec![Node::line(format!(
            "garp_interval {}",
            self.rng.value(&["0.01", "1"], &["x"], off)
        ))];
        if self.rng.chance(50) {
            body.push(Node::line("interface eth1"));
        } else {
            body.push(Node::block(
                "interfaces",
                vec![Node::line("eth1"), Node::line("ens3")],
            ));
        }
        Node::block("garp_group", body)
    }

    fn virtual_server(&mut self) -> Node {
        let off = self.off();
        let r = &mut self.rng;
        let head = r.value(
            &["virtual_server 10.10.0.200 80", "virtual_server fwmark 1"],
            &["virtual_server 10.10.0.200"],
            off,
        );
        let fwmark = head.contains("fwmark");
        let mut body = vec![
            Node::line(format!("delay_loop {}", r.value(&["6", "3"], &[], 0))),
            Node::line(format!("lb_algo {}", r.value(&["rr", "wlc"], &[], 0))),
            Node::line(format!("lb_kind {}", r.value(&["DR", "NAT"], &["dr"], off))),
        ];
        if !fwmark || r.chance(off) {
            body.push(Node::line(format!(
                "protocol {}",
                r.value(&["TCP", "UDP", "tcp", "udp"], &["ICMP"], off)
            )));
        }
        if r.chance(50) {
            body.push(Node::line(r.value(
                &["persistence_timeout 50", "persistence_timeout"],
                &["persistence_timeout x"],
                off,
            )));
        }
        let kind = r.value(&["TCP_CHECK", "HTTP_GET"], &[], 0);
        let mut checks = vec![
            Node::line(format!("connect_timeout {}", r.value(&["3", "1"], &[], 0))),
            Node::line(r.value(&["retry 3"], &["nb_get_retry 3"], v::plus(off, 10))),
        ];
        if kind == "HTTP_GET" {
            checks.push(Node::block(
                "url",
                vec![Node::line("path /"), Node::line("status_code 200")],
            ));
        }
        let checker = Node::block(kind, checks);
        let real = if fwmark && !r.chance(off) {
            "real_server 10.10.0.2"
        } else {
            "real_server 10.10.0.2 80"
        };
        body.push(Node::block(real, vec![Node::line("weight 1"), checker]));
        Node::block(head, body)
    }
}
