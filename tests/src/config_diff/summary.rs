//! The meaning of a configuration as both programs print it, reduced to fields that map onto
//! xvrrpd's model: keepalived's `-d` dump on one side, `xvrrpd -d --json` on the other, each
//! turned into `instance -> field -> value` (and the same for vrrp_scripts), with values
//! written the same way (addresses with their prefix length, intervals in milliseconds,
//! routes and rules in one canonical word order).

use std::collections::BTreeMap;

use serde_json::Value;

pub type Fields = BTreeMap<String, String>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub instances: BTreeMap<String, Fields>,
    pub scripts: BTreeMap<String, Fields>,
    /// Sync group -> its members, in order.
    pub sync_groups: BTreeMap<String, String>,
}

fn with_prefix(address: &str) -> String {
    if address.contains('/') {
        address.to_string()
    } else if address.contains(':') {
        format!("{address}/128")
    } else {
        format!("{address}/32")
    }
}

fn scope_number(scope: &str) -> String {
    match scope {
        "global" | "universe" => "0".into(),
        "site" => "200".into(),
        "link" => "253".into(),
        "host" => "254".into(),
        "nowhere" => "255".into(),
        other => other.to_string(),
    }
}

/// Seconds as keepalived's `%g` prints them, in milliseconds.
fn millis(seconds: f64) -> String {
    format!("{}", (seconds * 1000.0).round() as i64)
}

/// A virtual address as `ADDR/LEN dev IF scope N [label L] [flags]`.
fn address_canonical(
    address: &str,
    dev: &str,
    scope: &str,
    label: Option<&str>,
    flags: &[&str],
) -> String {
    let mut text = format!(
        "{} dev {dev} scope {}",
        with_prefix(address),
        scope_number(scope)
    );
    if let Some(label) = label {
        text.push_str(&format!(" label {label}"));
    }
    let mut flags: Vec<&str> = flags.to_vec();
    flags.sort_unstable();
    for flag in flags {
        text.push(' ');
        text.push_str(flag);
    }
    text
}

/// keepalived's `format_ipaddress` line.
fn keepalived_address(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut dev = "";
    let mut scope = "global";
    let mut label = None;
    let mut flags = Vec::new();
    let mut index = 1;
    while index < words.len() {
        match words[index] {
            "dev" => {
                dev = words.get(index + 1).copied().unwrap_or_default();
                // `eth0@base` for addresses on a VMAC.
                dev = dev.split('@').next().unwrap_or(dev);
                index += 2;
            }
            "scope" => {
                scope = words.get(index + 1).copied().unwrap_or_default();
                index += 2;
            }
            "label" => {
                label = words.get(index + 1).copied();
                index += 2;
            }
            "brd" | "peer" | "preferred_lft" | "track_group" => index += 2,
            flag @ ("home" | "-nodad" | "noprefixroute" | "no_track" | "autojoin"
            | "mngtmpaddr") => {
                flags.push(flag);
                index += 1;
            }
            _ => index += 1,
        }
    }
    address_canonical(words[0], dev, scope, label, &flags)
}

/// A route as `TYPE DST [via V] [dev D] [src S] [table T] [metric M] [scope N]`.
#[derive(Default)]
struct RouteWords {
    kind: String,
    dst: String,
    via: Option<String>,
    dev: Option<String>,
    src: Option<String>,
    table: Option<String>,
    metric: Option<String>,
    scope: Option<String>,
    /// `via X dev Y weight W` each (weight 1, the default, left out).
    nexthops: Vec<String>,
}

fn nexthop_text(via: Option<&str>, dev: Option<&str>, weight: Option<&str>) -> String {
    let mut text = String::from("nexthop");
    for (name, value) in [("via", via), ("dev", dev), ("weight", weight)] {
        if let Some(value) = value.filter(|v| !(name == "weight" && *v == "1")) {
            text.push_str(&format!(" {name} {value}"));
        }
    }
    text
}

impl RouteWords {
    fn text(&self) -> String {
        let mut text = format!("{} {}", self.kind, self.dst);
        for (name, value) in [
            ("via", &self.via),
            ("dev", &self.dev),
            ("src", &self.src),
            ("table", &self.table),
            ("metric", &self.metric),
            ("scope", &self.scope),
        ] {
            if let Some(value) = value {
                text.push_str(&format!(" {name} {value}"));
            }
        }
        for nexthop in &self.nexthops {
            text.push(' ');
            text.push_str(nexthop);
        }
        text
    }
}

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "nat",
];

/// keepalived's `format_iproute` line.
fn keepalived_route(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut route = RouteWords {
        kind: "unicast".into(),
        ..Default::default()
    };
    let mut index = 1; // after add|append|prepend
    if let Some(kind) = words.get(index).filter(|w| ROUTE_TYPES.contains(w)) {
        route.kind = kind.to_string();
        index += 1;
    }
    route.dst = match words.get(index) {
        Some(&"default") => "default".into(),
        Some(dst) => with_prefix(dst),
        None => String::new(),
    };
    index += 1;
    // From the first `nexthop` on, the words belong to the nexthops.
    if let Some(first) = words.iter().position(|w| *w == "nexthop") {
        for chunk in words[first + 1..].split(|w| *w == "nexthop") {
            let value_of = |name: &str| {
                chunk.iter().position(|w| *w == name).and_then(|i| {
                    // `via inet ADDR`
                    if name == "via" && matches!(chunk.get(i + 1), Some(&"inet") | Some(&"inet6")) {
                        chunk.get(i + 2).copied()
                    } else {
                        chunk.get(i + 1).copied()
                    }
                })
            };
            route.nexthops.push(nexthop_text(
                value_of("via"),
                value_of("dev"),
                value_of("weight"),
            ));
        }
    }
    let end = words
        .iter()
        .position(|w| *w == "nexthop")
        .unwrap_or(words.len());
    let words = &words[..end];
    while index < words.len() {
        let value = words.get(index + 1).map(|v| v.to_string());
        match words[index] {
            "via" => {
                // `via inet ADDR` / `via inet6 ADDR`
                route.via = words.get(index + 2).map(|v| v.to_string());
                index += 3;
                continue;
            }
            "dev" => route.dev = value,
            "src" => route.src = value,
            "table" => route.table = value,
            "metric" => route.metric = value,
            "scope" => route.scope = value,
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    route.text()
}

/// keepalived's `format_iprule` line, reduced to `from X [to Y] [priority P] ACTION`.
fn keepalived_rule(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut from = "all".to_string();
    let mut to = None;
    let mut priority = None;
    let mut action = String::new();
    let mut index = 0;
    while index < words.len() {
        let value = words.get(index + 1).copied().unwrap_or_default();
        match words[index] {
            "from" => {
                from = if matches!(value, "all" | "0.0.0.0/0" | "::/0") {
                    "all".into()
                } else {
                    with_prefix(value)
                }
            }
            "to" => to = Some(with_prefix(value)),
            "priority" => priority = Some(value.to_string()),
            "lookup" => action = format!("lookup {value}"),
            "goto" => action = format!("goto {value}"),
            "type" => action = format!("type {value}"),
            "nop" => {
                action = "nop".into();
                index += 1;
                continue;
            }
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    rule_text(&from, to.as_deref(), priority.as_deref(), &action)
}

fn rule_text(from: &str, to: Option<&str>, priority: Option<&str>, action: &str) -> String {
    let mut text = format!("from {from}");
    if let Some(to) = to {
        text.push_str(&format!(" to {to}"));
    }
    if let Some(priority) = priority {
        text.push_str(&format!(" priority {priority}"));
    }
    text.push(' ');
    text.push_str(action);
    text
}

/// A script command as keepalived's cmd_str prints it: `'arg0' 'arg1'`, reduced to the file
/// name of the program (keepalived replaces it with its real path) and the arguments.
fn keepalived_command(text: &str) -> String {
    let mut words = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').unwrap_or(quoted.len());
            words.push(quoted[..end].to_string());
            rest = quoted.get(end + 1..).unwrap_or_default().trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    command_canonical(&words)
}

fn command_canonical(argv: &[String]) -> String {
    let mut words = argv.to_vec();
    if let Some(first) = words.first_mut()
        && !first.starts_with('<')
    {
        *first = first.rsplit('/').next().unwrap_or(first).to_string();
    }
    words.join(" | ")
}

impl Summary {
    /// Reads keepalived's dump (log prefixes already removed).
    pub fn from_keepalived(lines: &[String]) -> Self {
        let mut summary = Self::default();
        let mut section = "";
        let mut current: Option<(String, Fields)> = None;
        let mut list: Option<String> = None;
        let mut group: Option<(String, Vec<String>)> = None;
        let flush = |summary: &mut Self, current: &mut Option<(String, Fields)>, section: &str| {
            if let Some((name, fields)) = current.take() {
                if section == "scripts" {
                    summary.scripts.insert(name, fields);
                } else {
                    summary.instances.insert(name, fields);
                }
            }
        };
        for line in lines {
            if let Some(header) = line.strip_prefix("------< ") {
                flush(&mut summary, &mut current, section);
                if let Some((name, members)) = group.take() {
                    summary.sync_groups.insert(name, members.join(" "));
                }
                section = match header {
                    h if h.starts_with("VRRP Topology") => "instances",
                    h if h.starts_with("VRRP Scripts") => "scripts",
                    h if h.starts_with("VRRP Sync groups") => "groups",
                    _ => "",
                };
                list = None;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let text = line.trim();
            match section {
                "instances" | "scripts" => {
                    if indent == 1 {
                        if let Some(name) = text
                            .strip_prefix("VRRP Instance = ")
                            .or_else(|| text.strip_prefix("VRRP Script = "))
                        {
                            flush(&mut summary, &mut current, section);
                            current = Some((name.to_string(), Fields::new()));
                            list = None;
                        }
                        continue;
                    }
                    let Some((_, fields)) = current.as_mut() else {
                        continue;
                    };
                    if indent >= 5 {
                        if list.as_deref() == Some("flags") {
                            if text.starts_with("Using unicast") {
                                fields.insert("unicast".into(), "yes".into());
                            }
                            continue;
                        }
                        if let Some(name) = &list {
                            let item = match name.as_str() {
                                "vips" | "evips" => keepalived_address(text),
                                "routes" => keepalived_route(text),
                                "rules" => keepalived_rule(text),
                                "track_file" => text.replacen(", weight", " weight", 1),
                                _ => text.to_string(),
                            };
                            let entry = fields.entry(name.clone()).or_default();
                            if !entry.is_empty() {
                                entry.push_str(" ; ");
                            }
                            entry.push_str(&item);
                        }
                        continue;
                    }
                    list = None;
                    if section == "scripts" {
                        keepalived_script_field(fields, text);
                    } else {
                        keepalived_instance_field(fields, text, &mut list);
                    }
                }
                "groups" => {
                    if let Some(rest) = text.strip_prefix("VRRP Sync Group = ") {
                        if let Some((name, members)) = group.take() {
                            summary.sync_groups.insert(name, members.join(" "));
                        }
                        let name = rest.split(',').next().unwrap_or(rest).to_string();
                        group = Some((name, Vec::new()));
                        list = None;
                    } else if indent < 5 {
                        list = (text == "VRRP member instances :").then(|| "members".to_string());
                    } else if list.is_some()
                        && let Some((_, members)) = group.as_mut()
                    {
                        members.push(text.to_string());
                    }
                }
                _ => {}
            }
        }
        flush(&mut summary, &mut current, section);
        if let Some((name, members)) = group.take() {
            summary.sync_groups.insert(name, members.join(" "));
        }
        for fields in summary.instances.values_mut() {
            let Some(vmac) = fields.remove("vmac_name") else {
                continue;
            };
            let base = fields.get("interface").cloned().unwrap_or_default();
            for key in ["vips", "evips"] {
                if let Some(list) = fields.get_mut(key) {
                    *list = list.replace(&format!("dev {vmac} "), &format!("dev {base} "));
                }
            }
        }
        summary
    }

    /// Reads `xvrrpd -d --json`.
    pub fn from_xvrrpd(json: &Value) -> Self {
        let mut summary = Self::default();
        let global = &json["global"];
        let scripts = json["scripts"].as_array().cloned().unwrap_or_default();
        let track_files = json["track_files"].as_array().cloned().unwrap_or_default();
        for script in &scripts {
            let mut fields = Fields::new();
            let argv: Vec<String> = script["script"]["argv"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|w| w.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            fields.insert("command".into(), command_canonical(&argv));
            fields.insert(
                "interval".into(),
                format!(
                    "{}",
                    script["interval"].as_f64().unwrap_or(0.0).floor() as i64
                ),
            );
            let reverse = if script["reverse"].as_bool() == Some(true) {
                " reverse"
            } else {
                ""
            };
            fields.insert("weight".into(), format!("{}{reverse}", script["weight"]));
            fields.insert("rise".into(), script["rise"].to_string());
            fields.insert("fall".into(), script["fall"].to_string());
            summary.scripts.insert(
                script["name"].as_str().unwrap_or_default().to_string(),
                fields,
            );
        }
        // Members of a sync group without sync_group_tracking_weight: keepalived prints their
        // tracked interfaces with weight 0, `reverse` kept (and applies the configured weight
        // all the same, which the daemon follows).
        let unweighted: Vec<String> = json["sync_groups"]
            .as_array()
            .map(|groups| {
                groups
                    .iter()
                    .filter(|g| {
                        g["sync_group_tracking_weight"] != true && g["global_tracking"] != true
                    })
                    .flat_map(|g| g["members"].as_array().cloned().unwrap_or_default())
                    .map(|m| str_of(&m["name"]))
                    .collect()
            })
            .unwrap_or_default();
        for instance in json["instances"].as_array().cloned().unwrap_or_default() {
            let name = instance["name"].as_str().unwrap_or_default().to_string();
            let mut fields = xvrrpd_instance(&instance, global, &scripts, &track_files);
            if unweighted.contains(&name)
                && let Some(interfaces) = fields.get_mut("track_interface")
            {
                *interfaces = interfaces
                    .split(" ; ")
                    .map(|t| {
                        // keepalived zeroes the weight only; `reverse` stays.
                        let name = t.split(' ').next().unwrap_or_default();
                        let reverse = if t.ends_with(" reverse") {
                            " reverse"
                        } else {
                            ""
                        };
                        format!("{name} weight 0{reverse}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ; ");
            }
            summary.instances.insert(name, fields);
        }
        for group in json["sync_groups"].as_array().cloned().unwrap_or_default() {
            let members: Vec<&str> = group["members"]
                .as_array()
                .map(|m| m.iter().filter_map(|m| m["name"].as_str()).collect())
                .unwrap_or_default();
            summary.sync_groups.insert(
                group["name"].as_str().unwrap_or_default().to_string(),
                members.join(" "),
            );
        }
        summary
    }
}

fn keepalived_script_field(fields: &mut Fields, text: &str) {
    let Some((key, value)) = text.split_once(" = ") else {
        return;
    };
    let value = value.trim();
    match key {
        "Command" => {
            fields.insert("command".into(), keepalived_command(value));
        }
        "Interval" => {
            fields.insert(
                "interval".into(),
                value.trim_end_matches(" sec").to_string(),
            );
        }
        "Weight" => {
            fields.insert("weight".into(), value.to_string());
        }
        "Rise" => {
            fields.insert("rise".into(), value.to_string());
        }
        "Fall" => {
            fields.insert("fall".into(), value.to_string());
        }
        _ => {}
    }
}

fn keepalived_instance_field(fields: &mut Fields, text: &str, list: &mut Option<String>) {
    let set = |fields: &mut Fields, key: &str, value: &str| {
        fields.insert(key.to_string(), value.to_string());
    };
    match text {
        "Flags:" => {
            *list = Some("flags".into());
            return;
        }
        "VRRP interface tracking disabled" => return set(fields, "dont_track_primary", "yes"),
        "Enforcing strict VRRP compliance" => return set(fields, "strict", "yes"),
        "Virtual IP Excluded :" => {
            *list = Some("evips".into());
            return;
        }
        "Unicast Peer :" => {
            *list = Some("peers".into());
            return;
        }
        "Virtual Routes :" => {
            *list = Some("routes".into());
            return;
        }
        "Virtual Rules :" => {
            *list = Some("rules".into());
            return;
        }
        "Tracked interfaces :" => {
            *list = Some("track_interface".into());
            return;
        }
        "Tracked scripts :" => {
            *list = Some("track_script".into());
            return;
        }
        "Tracked files :" => {
            *list = Some("track_file".into());
            return;
        }
        _ => {}
    }
    if text.starts_with("Virtual IP (") {
        *list = Some("vips".into());
        return;
    }
    if let Some(address) = text.strip_prefix("Multicast address ") {
        let address = address.split(',').next().unwrap_or(address);
        return set(fields, "mcast", address);
    }
    let Some((key, value)) = text.split_once(" = ") else {
        return;
    };
    let value = value.trim();
    match key {
        "VRRP Version" => set(fields, "version", value),
        "Wantstate" => set(fields, "wantstate", value),
        "Interface" => match value.split_once(", vmac on ") {
            // A VMAC instance: keepalived names the macvlan; xvrrpd's model keeps the
            // configured interface and puts the macvlan on it.
            Some((vmac, base)) => {
                let base = base.split(',').next().unwrap_or(base);
                set(fields, "interface", base);
                set(fields, "vmac_name", vmac);
            }
            None => set(
                fields,
                "interface",
                value.split(',').next().unwrap_or(value),
            ),
        },
        "Using src_ip" => {
            if let Some(address) = value.strip_suffix(" (from configuration)") {
                set(fields, "src", address);
            }
        }
        "Gratuitous ARP delay" => set(fields, "garp_delay", value),
        "Gratuitous ARP repeat" => set(fields, "garp_repeat", value),
        "Gratuitous ARP refresh" => set(fields, "garp_refresh", value),
        "Gratuitous ARP refresh repeat" => set(fields, "garp_refresh_repeat", value),
        "Gratuitous ARP lower priority delay" => set(fields, "garp_lower_delay", value),
        "Gratuitous ARP lower priority repeat" => set(fields, "garp_lower_repeat", value),
        "Down timer adverts" => set(fields, "down_timer_adverts", value),
        "Send advert after receive lower priority advert" => set(
            fields,
            "lower_prio_no_advert",
            if value == "true" { "false" } else { "true" },
        ),
        "Send advert after receive higher priority advert" => {
            set(fields, "higher_prio_send_advert", value)
        }
        "Virtual Router ID" => set(fields, "vrid", value),
        "Priority" => set(fields, "priority", value),
        "Advert interval" => {
            let (number, unit) = value.split_once(' ').unwrap_or((value, ""));
            let number: i64 = number.parse().unwrap_or(-1);
            let ms = if unit == "sec" { number * 1000 } else { number };
            set(fields, "advert_ms", &ms.to_string())
        }
        "Preempt" => set(fields, "preempt", value),
        "Preempt delay" => {
            let seconds: f64 = value.trim_end_matches(" secs").parse().unwrap_or(-1.0);
            set(fields, "preempt_delay_ms", &millis(seconds))
        }
        "Authentication type" => match value {
            "SIMPLE_PASSWORD" => set(fields, "auth", "PASS"),
            "IPSEC_AH" => set(fields, "auth", "AH"),
            _ => {}
        },
        "Password" => set(fields, "password", value),
        "Unicast TTL" => {}
        key if key.ends_with(" state transition script") => {
            let kind = key
                .trim_end_matches(" state transition script")
                .to_lowercase();
            let command = value.rsplit_once(", uid:gid").map_or(value, |(c, _)| c);
            set(
                fields,
                &format!("notify_{kind}"),
                &keepalived_command(command),
            );
        }
        _ => {}
    }
}

fn str_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn xvrrpd_instance(
    instance: &Value,
    global: &Value,
    scripts: &[Value],
    track_files: &[Value],
) -> Fields {
    let mut fields = Fields::new();
    let set = |fields: &mut Fields, key: &str, value: String| {
        fields.insert(key.to_string(), value);
    };
    let version = if instance["version"] == "V3" {
        "3"
    } else {
        "2"
    };
    set(&mut fields, "version", version.into());
    let priority = instance["priority"].as_u64().unwrap_or(0);
    let wish = match instance["state"].as_str() {
        Some(state) => state.to_string(),
        None if priority == 255 => "MASTER".into(),
        None => "BACKUP".into(),
    };
    set(&mut fields, "wantstate", wish);
    let interface = str_of(&instance["interface"]);
    set(&mut fields, "interface", interface.clone());
    set(&mut fields, "vrid", instance["vrid"].to_string());
    set(&mut fields, "priority", priority.to_string());
    let advert = instance["advert_int"].as_f64().unwrap_or(0.0);
    set(&mut fields, "advert_ms", millis(advert));
    let preempt = instance["preempt"].as_bool() == Some(true);
    set(
        &mut fields,
        "preempt",
        if preempt { "enabled" } else { "disabled" }.into(),
    );
    let delay = instance["preempt_delay"].as_f64().unwrap_or(0.0);
    if delay > 0.0 {
        set(&mut fields, "preempt_delay_ms", millis(delay));
    }
    match instance["authentication"]["type"].as_str() {
        Some("PASS") => {
            set(&mut fields, "auth", "PASS".into());
            set(
                &mut fields,
                "password",
                str_of(&instance["authentication"]["password"]),
            );
        }
        Some("AH") => set(&mut fields, "auth", "AH".into()),
        _ => {}
    }
    for (key, list) in [
        ("vips", "virtual_ipaddress"),
        ("evips", "virtual_ipaddress_excluded"),
    ] {
        let items: Vec<String> = instance[list]
            .as_array()
            .map(|addresses| {
                addresses
                    .iter()
                    .map(|a| {
                        let dev = a["dev"].as_str().unwrap_or(&interface).to_string();
                        let scope = a["scope"].as_str().unwrap_or("global").to_string();
                        let mut flags = Vec::new();
                        for (name, flag) in [
                            ("home", "home"),
                            ("nodad", "-nodad"),
                            ("noprefixroute", "noprefixroute"),
                            ("no_track", "no_track"),
                            ("autojoin", "autojoin"),
                            ("mngtmpaddr", "mngtmpaddr"),
                        ] {
                            if a[name].as_bool() == Some(true) {
                                flags.push(flag);
                            }
                        }
                        address_canonical(
                            &host_form(a["address"].as_str().unwrap_or_default()),
                            &dev,
                            &scope,
                            a["label"].as_str(),
                            &flags,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !items.is_empty() {
            set(&mut fields, key, items.join(" ; "));
        }
    }
    let peers = instance["unicast"]["peers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if peers.is_empty() {
        let group = instance["mcast_dst_ip"].as_str().map_or_else(
            || {
                if instance["family"] == "ipv6" {
                    str_of(&global["vrrp_mcast_group6"])
                } else {
                    str_of(&global["vrrp_mcast_group4"])
                }
            },
            str::to_string,
        );
        set(&mut fields, "mcast", group);
    } else {
        set(&mut fields, "unicast", "yes".into());
        let items: Vec<String> = peers
            .iter()
            .map(|p| {
                format!(
                    "{} min_ttl {} max_ttl {}",
                    str_of(&p["address"]),
                    p["min_ttl"].as_u64().unwrap_or(0),
                    p["max_ttl"].as_u64().unwrap_or(255)
                )
            })
            .collect();
        set(&mut fields, "peers", items.join(" ; "));
    }
    if let Some(src) = instance["unicast"]["src_ip"]
        .as_str()
        .or(instance["mcast_src_ip"].as_str())
    {
        set(&mut fields, "src", src.to_string());
    }
    let garp = &instance["garp"];
    let defaults = &global["instance_defaults"]["garp"];
    set(&mut fields, "garp_delay", secs(&garp["master_delay"]));
    set(&mut fields, "garp_repeat", str_of(&garp["master_repeat"]));
    set(&mut fields, "garp_refresh", secs(&garp["master_refresh"]));
    set(
        &mut fields,
        "garp_refresh_repeat",
        str_of(&garp["master_refresh_repeat"]),
    );
    let lower_delay = if garp["lower_prio_delay"].is_null() {
        if defaults["lower_prio_delay"].is_null() {
            secs(&defaults["master_delay"])
        } else {
            secs(&defaults["lower_prio_delay"])
        }
    } else {
        secs(&garp["lower_prio_delay"])
    };
    set(&mut fields, "garp_lower_delay", lower_delay);
    let lower_repeat = if garp["lower_prio_repeat"].is_null() {
        if defaults["lower_prio_repeat"].is_null() {
            str_of(&defaults["master_repeat"])
        } else {
            str_of(&defaults["lower_prio_repeat"])
        }
    } else {
        str_of(&garp["lower_prio_repeat"])
    };
    set(&mut fields, "garp_lower_repeat", lower_repeat);
    set(
        &mut fields,
        "down_timer_adverts",
        str_of(&instance["down_timer_adverts"]),
    );
    set(
        &mut fields,
        "lower_prio_no_advert",
        str_of(&instance["lower_prio_no_advert"]),
    );
    set(
        &mut fields,
        "higher_prio_send_advert",
        str_of(&instance["higher_prio_send_advert"]),
    );
    if instance["strict_mode"].as_bool() == Some(true) {
        set(&mut fields, "strict", "yes".into());
    }
    if instance["dont_track_primary"].as_bool() == Some(true) {
        set(&mut fields, "dont_track_primary", "yes".into());
    }
    let routes: Vec<String> = instance["virtual_routes"]
        .as_array()
        .map(|routes| routes.iter().map(xvrrpd_route).collect())
        .unwrap_or_default();
    if !routes.is_empty() {
        set(&mut fields, "routes", routes.join(" ; "));
    }
    let rules: Vec<String> = instance["virtual_rules"]
        .as_array()
        .map(|rules| rules.iter().map(xvrrpd_rule).collect())
        .unwrap_or_default();
    if !rules.is_empty() {
        set(&mut fields, "rules", rules.join(" ; "));
    }
    // Tracking as keepalived resolves it: a reference's own weight, else the tracked
    // object's (scripts) or 0 (interfaces); the instance's own interface is not tracked.
    let interfaces: Vec<String> = instance["track"]["interfaces"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter(|r| r["name"].as_str() != Some(interface.as_str()))
                .map(|r| track_text(r, 0))
                .collect()
        })
        .unwrap_or_default();
    if !interfaces.is_empty() {
        set(&mut fields, "track_interface", interfaces.join(" ; "));
    }
    let tracked_scripts: Vec<String> = instance["track"]["scripts"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .map(|r| {
                    let own = scripts
                        .iter()
                        .find(|s| s["name"] == r["name"])
                        .and_then(|s| s["weight"].as_i64())
                        .unwrap_or(0);
                    track_text(r, own)
                })
                .collect()
        })
        .unwrap_or_default();
    if !tracked_scripts.is_empty() {
        set(&mut fields, "track_script", tracked_scripts.join(" ; "));
    }
    let tracked_files: Vec<String> = instance["track"]["files"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .map(|r| {
                    let own = track_files
                        .iter()
                        .find(|f| f["name"] == r["name"])
                        .and_then(|f| f["weight"].as_i64())
                        .unwrap_or(1);
                    track_text(r, own)
                })
                .collect()
        })
        .unwrap_or_default();
    if !tracked_files.is_empty() {
        set(&mut fields, "track_file", tracked_files.join(" ; "));
    }
    for (kind, key) in [
        ("master", "notify_master"),
        ("backup", "notify_backup"),
        ("fault", "notify_fault"),
        ("stop", "notify_stop"),
        ("any", "notify_generic"),
        ("deleted", "notify_deleted"),
        ("master_rx_lower_pri", "notify_master rx lower pri"),
    ] {
        if let Some(argv) = instance["notify"][kind]["argv"].as_array() {
            let argv: Vec<String> = argv.iter().map(str_of).collect();
            set(&mut fields, key, command_canonical(&argv));
        }
    }
    fields
}

fn track_text(reference: &Value, default_weight: i64) -> String {
    let weight = reference["weight"].as_i64().unwrap_or(default_weight);
    let reverse = if reference["reverse"].as_bool() == Some(true) {
        " reverse"
    } else {
        ""
    };
    format!("{} weight {weight}{reverse}", str_of(&reference["name"]))
}

fn secs(value: &Value) -> String {
    format!("{}", value.as_f64().unwrap_or(0.0).floor() as i64)
}

/// `10.0.0.1/32` as keepalived prints a host address: without the length (with_prefix puts it
/// back).
fn host_form(address: &str) -> String {
    address.to_string()
}

fn xvrrpd_route(route: &Value) -> String {
    let destination = str_of(&route["destination"]);
    let words = RouteWords {
        kind: route["route_type"]
            .as_str()
            .unwrap_or("unicast")
            .to_string(),
        dst: destination,
        via: route["via"].as_str().map(str::to_string),
        dev: route["dev"].as_str().map(str::to_string),
        src: route["src"].as_str().map(str::to_string),
        table: route["table"]
            .as_u64()
            .map(|t| t.to_string())
            .filter(|t| t != "254"),
        metric: route["metric"].as_u64().map(|m| m.to_string()),
        scope: route["scope"].as_u64().map(|s| s.to_string()),
        nexthops: route["nexthops"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                let weight = n["weight"].as_u64().map(|w| w.to_string());
                nexthop_text(n["via"].as_str(), n["dev"].as_str(), weight.as_deref())
            })
            .collect(),
    };
    words.text()
}

fn xvrrpd_rule(rule: &Value) -> String {
    let from = rule["from"]
        .as_str()
        .filter(|f| !matches!(*f, "0.0.0.0/0" | "::/0"))
        .map_or("all".to_string(), with_prefix);
    let to = rule["to"].as_str().map(with_prefix);
    let priority = rule["preference"].as_u64().map(|p| p.to_string());
    let action = match (&rule["action"], rule["table"].as_u64()) {
        (Value::String(nop), _) if nop == "nop" => "nop".into(),
        (Value::Object(action), _) if action.contains_key("goto") => {
            format!("goto {}", action["goto"])
        }
        (Value::Object(action), _) if action.contains_key("type") => {
            format!("type {}", str_of(&action["type"]))
        }
        (_, table) => format!("lookup {}", table.unwrap_or(254)),
    };
    rule_text(&from, to.as_deref(), priority.as_deref(), &action)
}
