//! Plans: the steps that take the live [`super::SwarmState`] where the user wants it,
//! each with its docker CLI equivalent. Pure: computed, shown, and only then (with
//! consent) applied. What a bootstrap plans is in [`super::bootstrap`].

use std::fmt::Write;

pub use super::bootstrap::{BootstrapOptions, bootstrap, default_managers};
pub use crate::snapshot::Availability;
use crate::snapshot::Role;

/// Quotes a word for a shell command shown to users: plain words (addresses, names,
/// `host:port`, `user@host`) stay unquoted so the command reads like one typed by hand.
pub fn quote(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@,=+-".contains(c))
        && !word.starts_with('-');
    if plain {
        std::borrow::Cow::Borrowed(word)
    } else {
        crate::ssh::exec::quote(word)
    }
}

/// Swarm's cluster-management port.
pub const MANAGEMENT_PORT: u16 = 2377;

/// An overlay network to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OverlaySpec {
    pub name: String,
    pub attachable: bool,
    pub encrypted: bool,
    pub subnet: Option<String>,
    pub mtu: Option<u32>,
}

/// What a step does. The host it runs on is [`Step::host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Init {
        advertise: String,
        data_path_port: Option<u32>,
        default_addr_pool: Vec<String>,
        subnet_size: Option<u32>,
        autolock: bool,
    },
    /// Join with a token fetched from `token_from` (a manager host) at apply time.
    Join {
        role: Role,
        token_from: String,
        remote: String,
        advertise: Option<String>,
    },
    Leave {
        force: bool,
    },
    CreateOverlay(OverlaySpec),
    Promote {
        node_id: String,
        name: String,
    },
    Demote {
        node_id: String,
        name: String,
    },
    SetAvailability {
        node_id: String,
        name: String,
        availability: Availability,
    },
    RemoveNode {
        node_id: String,
        name: String,
        force: bool,
    },
    RotateJoinToken {
        role: Role,
    },
    RotateUnlockKey,
    /// `docker node update --label-add/--label-rm` on the node's ID.
    NodeLabels(super::labels::LabelEdit),
    /// A secret or config created, removed, or a service moved to another.
    Object(super::secrets::ObjectStep),
    /// `docker swarm init --force-new-cluster`: recovery after lost quorum.
    ForceNewCluster {
        advertise: String,
        /// Keep autolock on (the engine's init sets the swarm's autolock to what it is
        /// given, off unless told).
        autolock: bool,
    },
    /// A change to one service's spec (scale, update, rollback), by its ID.
    Service(super::service::ServiceStep),
    /// A step of a stack deploy or removal (`swarmdeck stack`), run on a manager.
    Stack(Box<crate::stack::StackStep>),
    /// A step of a swarm backup or restore (`swarmdeck backup`).
    Backup(crate::backup::BackupStep),
    /// A step of a rolling maintenance: a node's command, or a wait or check around it.
    Maintenance(super::maintenance::MaintenanceStep),
    /// The node certificate lifetime or a CA rotation (`swarmdeck cert`), on a manager.
    Cert(crate::certs::CertStep),
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Manager => "manager",
        Role::Worker => "worker",
    }
}

impl Action {
    /// The docker CLI command that does the same on the step's host. Never holds a secret.
    pub fn cli(&self) -> String {
        match self {
            Action::Init {
                advertise,
                data_path_port,
                default_addr_pool,
                subnet_size,
                autolock,
            } => {
                let mut s = format!("docker swarm init --advertise-addr {}", quote(advertise));
                if let Some(p) = data_path_port {
                    let _ = write!(s, " --data-path-port {p}");
                }
                for pool in default_addr_pool {
                    let _ = write!(s, " --default-addr-pool {}", quote(pool));
                }
                if let Some(n) = subnet_size {
                    let _ = write!(s, " --default-addr-pool-mask-length {n}");
                }
                if *autolock {
                    s.push_str(" --autolock");
                }
                s
            }
            Action::Join {
                remote, advertise, ..
            } => {
                let mut s = "docker swarm join --token <redacted>".to_string();
                if let Some(a) = advertise {
                    let _ = write!(s, " --advertise-addr {}", quote(a));
                }
                let _ = write!(s, " {}", quote(remote));
                s
            }
            Action::Leave { force } => {
                if *force {
                    "docker swarm leave --force".into()
                } else {
                    "docker swarm leave".into()
                }
            }
            Action::CreateOverlay(o) => {
                let mut s = "docker network create -d overlay".to_string();
                if o.attachable {
                    s.push_str(" --attachable");
                }
                if o.encrypted {
                    s.push_str(" --opt encrypted");
                }
                if let Some(sub) = &o.subnet {
                    let _ = write!(s, " --subnet {}", quote(sub));
                }
                if let Some(m) = o.mtu {
                    let _ = write!(s, " --opt com.docker.network.driver.mtu={m}");
                }
                let _ = write!(s, " {}", quote(&o.name));
                s
            }
            Action::Promote { name, .. } => format!("docker node promote {}", quote(name)),
            Action::Demote { name, .. } => format!("docker node demote {}", quote(name)),
            Action::SetAvailability {
                name, availability, ..
            } => format!(
                "docker node update --availability {} {}",
                availability.as_str(),
                quote(name)
            ),
            Action::RemoveNode { name, force, .. } => format!(
                "docker node rm {}{}",
                if *force { "--force " } else { "" },
                quote(name)
            ),
            Action::RotateJoinToken { role } => {
                format!("docker swarm join-token --rotate -q {}", role_word(*role))
            }
            Action::RotateUnlockKey => "docker swarm unlock-key --rotate -q".into(),
            Action::Service(s) => s.cli(),
            Action::NodeLabels(e) => e.cli(),
            Action::Object(o) => o.cli(),
            Action::ForceNewCluster {
                advertise,
                autolock,
            } => format!(
                "docker swarm init --force-new-cluster {}--advertise-addr {}",
                if *autolock { "--autolock " } else { "" },
                quote(advertise)
            ),
            Action::Stack(s) => s.cli(),
            Action::Backup(b) => b.cli(),
            Action::Maintenance(m) => m.cli(),
            Action::Cert(c) => c.cli(),
        }
    }

    /// One line for people. Node names and addresses come from the hosts' engines: shown
    /// with their control characters escaped, so the line stays one inert line in the
    /// terminal, the app, the audit log and the exported script.
    pub fn describe(&self, host: &str) -> String {
        use crate::untrusted::visible;
        match self {
            Action::Init { advertise, .. } => {
                format!(
                    "initialise the swarm on {host}, advertising {}",
                    visible(advertise)
                )
            }
            Action::Join { role, remote, .. } => {
                format!(
                    "join {host} as a {} via {}",
                    role_word(*role),
                    visible(remote)
                )
            }
            Action::Leave { force } => format!(
                "make {host} leave its swarm{}",
                if *force { " (forced)" } else { "" }
            ),
            Action::CreateOverlay(o) => format!(
                "create overlay network {}{}{}",
                visible(&o.name),
                if o.attachable { " (attachable)" } else { "" },
                if o.encrypted { " (encrypted)" } else { "" }
            ),
            Action::Promote { name, .. } => format!("promote {} to manager", visible(name)),
            Action::Demote { name, .. } => format!("demote {} to worker", visible(name)),
            Action::SetAvailability {
                name, availability, ..
            } => format!(
                "set {} availability to {}",
                visible(name),
                availability.as_str()
            ),
            Action::RemoveNode { name, .. } => {
                format!("remove node {} from the swarm", visible(name))
            }
            Action::RotateJoinToken { role } => {
                format!("rotate the {} join token", role_word(*role))
            }
            Action::RotateUnlockKey => "rotate the unlock key".into(),
            Action::Service(s) => s.describe(),
            Action::NodeLabels(e) => e.describe(),
            Action::Object(o) => o.describe(),
            Action::ForceNewCluster { .. } => format!(
                "recover: make {host} the only manager of a new cluster keeping the swarm's \
                 state (services, networks, nodes)"
            ),
            Action::Stack(s) => s.describe(),
            Action::Backup(b) => b.describe(host),
            Action::Maintenance(m) => m.describe(),
            Action::Cert(c) => c.describe(),
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The inventory host whose engine runs the step.
    pub host: String,
    pub action: Action,
    pub description: String,
    pub cli: String,
    /// False for read-only steps (none yet; kept so plans can show checks).
    pub changes: bool,
    /// Steps with the same batch number run in parallel (worker joins); batches run in order.
    pub batch: usize,
}

impl Step {
    pub fn new(host: &str, action: Action, batch: usize) -> Step {
        Step {
            host: host.to_string(),
            description: action.describe(host),
            cli: action.cli(),
            action,
            changes: true,
            batch,
        }
    }
}

/// How a plan note that warns begins: shown so in the CLI, and in the warning colour in the
/// app.
pub const WARNING: &str = "WARNING: ";

/// Steps plus notes (advice, warnings) to show before applying.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

impl Plan {
    /// A plan of one step.
    pub fn of(step: Step) -> Plan {
        Plan {
            steps: vec![step],
            ..Plan::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Steps grouped into batches, in order.
    pub fn batches(&self) -> Vec<Vec<&Step>> {
        let mut out: Vec<Vec<&Step>> = Vec::new();
        for s in &self.steps {
            match out.last_mut() {
                Some(b) if b[0].batch == s.batch => b.push(s),
                _ => out.push(vec![s]),
            }
        }
        out
    }

    /// The plan as shown to users: numbered steps with the CLI equivalent.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            out.push_str("nothing to do: the hosts are already as requested\n");
        }
        // Each value on its own line, whatever a host's name holds.
        let v = crate::untrusted::visible;
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "{:>2}. [{}] {}", i + 1, v(&s.host), v(&s.description));
            let _ = writeln!(out, "      $ {}", v(&s.cli));
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {}", v(n));
        }
        crate::redact::redact(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_equivalents_quote_and_never_hold_secrets() {
        let a = Action::CreateOverlay(OverlaySpec {
            name: "net".into(),
            attachable: true,
            encrypted: true,
            subnet: Some("10.9.0.0/24".into()),
            mtu: Some(1400),
        });
        assert_eq!(
            a.cli(),
            "docker network create -d overlay --attachable --opt encrypted --subnet 10.9.0.0/24 \
             --opt com.docker.network.driver.mtu=1400 net"
        );
        let init = Action::Init {
            advertise: "10.0.0.1".into(),
            data_path_port: Some(4790),
            default_addr_pool: vec!["10.20.0.0/16".into()],
            subnet_size: Some(24),
            autolock: true,
        };
        assert_eq!(
            init.cli(),
            "docker swarm init --advertise-addr 10.0.0.1 --data-path-port 4790 \
             --default-addr-pool 10.20.0.0/16 --default-addr-pool-mask-length 24 --autolock"
        );
        assert_eq!(
            Action::RemoveNode {
                node_id: "i".into(),
                name: "a b".into(),
                force: true
            }
            .cli(),
            "docker node rm --force 'a b'"
        );
    }
}
