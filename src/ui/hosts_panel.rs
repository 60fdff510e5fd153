//! Hosts: the inventory as a table; add, edit, remove, test; import from ssh config and
//! docker contexts. Unknown host keys are confirmed by fingerprint; a changed key is
//! refused loudly and cannot be overridden here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use eframe::egui::{self, RichText};

use super::panel::{Context, PanelView};
use super::state::{Source, source_label};
use super::style;
use crate::inventory::{AuthMethod, HostEdit, HostSpec, Inventory};
use crate::redact::Secret;
use crate::secrets::SecretKey;
use crate::service::{Command, FilePurpose, HostTest, ImportSource};
use crate::ssh::HostKeyPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    Agent,
    Key,
    Password,
}

/// The add/edit form. The password only lives here until it is handed to the keyring.
/// (`Debug` is written out below: it must not print the password or passphrase.)
#[derive(Clone)]
pub struct HostForm {
    /// The name being edited, None when adding.
    pub original: Option<String>,
    pub name: String,
    pub target: String,
    pub auth: AuthKind,
    pub key_path: String,
    pub password: String,
    /// Passphrase of an encrypted key file; also only handed to the keyring.
    pub passphrase: String,
    pub sudo: bool,
    pub labels: String,
    /// `[user@]address[:port]` of jump hosts (ProxyJump, comma-separated), empty for a
    /// direct connection.
    pub jump: String,
    pub error: Option<String>,
}

impl std::fmt::Debug for HostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whether a secret was typed, never what.
        let typed = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("HostForm")
            .field("original", &self.original)
            .field("name", &self.name)
            .field("target", &self.target)
            .field("auth", &self.auth)
            .field("key_path", &self.key_path)
            .field("password", &typed(&self.password))
            .field("passphrase", &typed(&self.passphrase))
            .field("sudo", &self.sudo)
            .field("labels", &self.labels)
            .field("jump", &self.jump)
            .field("error", &self.error)
            .finish()
    }
}

impl HostForm {
    fn new() -> Self {
        Self {
            original: None,
            name: String::new(),
            target: String::new(),
            auth: AuthKind::Agent,
            key_path: String::new(),
            password: String::new(),
            passphrase: String::new(),
            sudo: false,
            labels: String::new(),
            jump: String::new(),
            error: None,
        }
    }

    fn edit(h: &HostSpec) -> Self {
        let (auth, key_path) = match &h.auth {
            AuthMethod::Agent => (AuthKind::Agent, String::new()),
            AuthMethod::Key { path } => (AuthKind::Key, path.display().to_string()),
            AuthMethod::Password => (AuthKind::Password, String::new()),
        };
        Self {
            original: Some(h.name.clone()),
            name: h.name.clone(),
            target: h.target(),
            auth,
            key_path,
            password: String::new(),
            passphrase: String::new(),
            sudo: h.sudo,
            labels: h
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            jump: h.jump.clone().unwrap_or_default(),
            error: None,
        }
    }

    /// The host this form describes, or what is wrong with it.
    pub fn to_spec(&self) -> Result<HostSpec, String> {
        let auth = match self.auth {
            AuthKind::Agent => AuthMethod::Agent,
            AuthKind::Key if self.key_path.trim().is_empty() => {
                return Err("choose a private key file".into());
            }
            AuthKind::Key => AuthMethod::Key {
                path: PathBuf::from(self.key_path.trim()),
            },
            AuthKind::Password => AuthMethod::Password,
        };
        let mut spec = HostSpec::parse_target(self.target.trim(), auth)?;
        if self.name.trim().is_empty() {
            return Err("give the host a name".into());
        }
        spec.name = self.name.trim().to_string();
        spec.sudo = self.sudo;
        for pair in self
            .labels
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (k, v) = crate::inventory::parse_label(pair).map_err(|e| e.to_string())?;
            spec.labels.insert(k, v);
        }
        let jump = self.jump.trim();
        spec.jump = (!jump.is_empty()).then(|| jump.to_string());
        spec.validate()?;
        Ok(spec)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestState {
    Running,
    Done(HostTest),
}

/// A key the user is asked to confirm while testing `host`: the host's own, or that of a
/// jump host on the way (`key_host` at `addr` says whose).
#[derive(Debug, Clone)]
pub struct KeyPrompt {
    pub host: HostSpec,
    pub key_host: String,
    pub addr: String,
    pub known_as: String,
    pub key_type: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, Default)]
pub struct HostsView {
    pub path: Option<PathBuf>,
    pub inventory: Option<Inventory>,
    pub form: Option<HostForm>,
    pub tests: BTreeMap<String, TestState>,
    pub key_prompt: Option<KeyPrompt>,
    /// (whose key, message) of a refused changed key, shown until dismissed.
    pub changed_key: Option<(String, String)>,
    pub imported: Vec<HostSpec>,
    /// The user asked to switch the app to this inventory (the app acts on it).
    pub open_requested: bool,
}

impl HostsView {
    /// A test result arrived: an unknown key opens the confirmation, a changed one the alarm.
    pub fn on_tested(&mut self, name: String, outcome: HostTest) {
        match &outcome {
            HostTest::UnknownKey {
                key_host,
                addr,
                known_as,
                key_type,
                fingerprint,
            } => {
                if let Some(host) = self.host(&name).cloned() {
                    self.key_prompt = Some(KeyPrompt {
                        host,
                        key_host: key_host.clone(),
                        addr: addr.clone(),
                        known_as: known_as.clone(),
                        key_type: key_type.clone(),
                        fingerprint: fingerprint.clone(),
                    });
                }
            }
            HostTest::ChangedKey { key_host, message } => {
                self.changed_key = Some((key_host.clone(), message.clone()));
            }
            _ => {}
        }
        self.tests.insert(name, TestState::Done(outcome));
    }

    fn host(&self, name: &str) -> Option<&HostSpec> {
        self.inventory.as_ref()?.host(name)
    }

    fn known_hosts(&self) -> Vec<PathBuf> {
        self.inventory
            .as_ref()
            .map(|i| i.known_hosts.clone())
            .unwrap_or_default()
    }
}

/// `on_screen`: what the app shows instead of this inventory's cluster (the demo, a
/// bundle), if anything.
impl PanelView for HostsView {
    fn show(&mut self, ui: &mut egui::Ui, cx: &mut Context<'_>) {
        let showing = matches!(cx.source, Source::Inventory(p) if self.path.as_ref() == Some(p));
        let on_screen = (!showing).then(|| source_label(cx.source, cx.snapshot));
        for cmd in show(ui, self, on_screen) {
            cx.send(cmd);
        }
    }
}

fn show(ui: &mut egui::Ui, view: &mut HostsView, on_screen: Option<String>) -> Vec<Command> {
    let mut cmds = Vec::new();
    let Some(path) = view.path.clone() else {
        ui.label("No inventory file.");
        return cmds;
    };
    ui.heading("Hosts");
    ui.label(RichText::new(format!("Inventory: {}", path.display())).weak());
    if let Some(other) = on_screen {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(
                style::warn(ui),
                format!("These are your own hosts; the other panels show: {other}."),
            );
            if ui.button("Open this inventory").clicked() {
                view.open_requested = true;
            }
        });
    }
    ui.horizontal(|ui| {
        if ui.button("➕ Add host").clicked() {
            view.form = Some(HostForm::new());
        }
        if ui.button("Import ~/.ssh/config").clicked() {
            cmds.push(Command::ImportHosts {
                from: ImportSource::SshConfig,
            });
        }
        if ui.button("Import docker contexts").clicked() {
            cmds.push(Command::ImportHosts {
                from: ImportSource::DockerContexts,
            });
        }
        if ui.button("Test all").clicked() {
            let hosts = view
                .inventory
                .as_ref()
                .map(|i| i.hosts.clone())
                .unwrap_or_default();
            for h in hosts {
                cmds.push(test(view, h, HostKeyPolicy::Strict));
            }
        }
    });
    ui.add_space(6.0);
    table(ui, view, &path, &mut cmds);
    imported(ui, view, &path, &mut cmds);
    form_window(ui, view, &path, &mut cmds);
    key_prompt_window(ui, view, &mut cmds);
    changed_key_window(ui, view);
    cmds
}

fn test(view: &mut HostsView, host: HostSpec, policy: HostKeyPolicy) -> Command {
    view.tests.insert(host.name.clone(), TestState::Running);
    Command::TestHost {
        known_hosts: view.known_hosts(),
        host: Box::new(host),
        policy,
    }
}

/// The edit, applied by the service to the inventory file as it is then.
fn save(path: &std::path::Path, edit: HostEdit) -> Command {
    Command::EditInventory {
        path: path.to_path_buf(),
        edit: Box::new(edit),
    }
}

fn table(ui: &mut egui::Ui, view: &mut HostsView, path: &std::path::Path, cmds: &mut Vec<Command>) {
    let hosts = view
        .inventory
        .as_ref()
        .map(|i| i.hosts.clone())
        .unwrap_or_default();
    if hosts.is_empty() {
        ui.label("No hosts yet. Add one, or import them from ~/.ssh/config.");
        return;
    }
    egui::Grid::new("hosts_grid")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for t in ["Name", "Target", "Auth", "Connection", ""] {
                ui.strong(t);
            }
            ui.end_row();
            for h in hosts {
                ui.label(&h.name);
                ui.monospace(h.target());
                ui.label(match &h.auth {
                    AuthMethod::Agent => "agent".to_string(),
                    AuthMethod::Key { path } => format!("key {}", path.display()),
                    AuthMethod::Password => "password (keyring)".to_string(),
                });
                test_cell(ui, view.tests.get(&h.name));
                ui.horizontal(|ui| {
                    if ui.small_button("Test").clicked() {
                        cmds.push(test(view, h.clone(), HostKeyPolicy::Strict));
                    }
                    if ui.small_button("Edit").clicked() {
                        view.form = Some(HostForm::edit(&h));
                    }
                    if ui.small_button("Remove").clicked() {
                        cmds.push(save(path, HostEdit::Remove(h.clone())));
                    }
                });
                ui.end_row();
            }
        });
}

fn test_cell(ui: &mut egui::Ui, state: Option<&TestState>) {
    match state {
        None => {
            ui.label(RichText::new("not tested").weak());
        }
        Some(TestState::Running) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("connecting…");
            });
        }
        Some(TestState::Done(HostTest::Ok { summary })) => {
            ui.colored_label(style::ok(ui), format!("✔ {summary}"));
        }
        Some(TestState::Done(HostTest::UnknownKey {
            key_host,
            addr,
            fingerprint,
            ..
        })) => {
            ui.colored_label(
                style::warn(ui),
                format!("unknown host key of {key_host} ({addr}): {fingerprint}"),
            );
        }
        Some(TestState::Done(HostTest::ChangedKey { .. })) => {
            ui.colored_label(style::bad(ui), "⛔ HOST KEY CHANGED: refused");
        }
        Some(TestState::Done(HostTest::Failed { message })) => {
            ui.colored_label(style::bad(ui), "✖ failed")
                .on_hover_text(message);
            ui.label(RichText::new(message).small());
        }
    }
}

fn imported(
    ui: &mut egui::Ui,
    view: &mut HostsView,
    path: &std::path::Path,
    cmds: &mut Vec<Command>,
) {
    if view.imported.is_empty() {
        return;
    }
    ui.add_space(10.0);
    ui.strong("Found hosts (not yet in the inventory)");
    let mut take = None;
    for (i, h) in view.imported.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!("{}  {}", h.name, h.target()));
            if ui.small_button("Add").clicked() {
                take = Some(i);
            }
        });
    }
    if let Some(i) = take {
        let host = view.imported.remove(i);
        if view.host(&host.name).is_none() {
            cmds.push(save(path, HostEdit::Add(host)));
        }
    }
    if ui.button("Dismiss").clicked() {
        view.imported.clear();
    }
}

fn form_window(
    ui: &mut egui::Ui,
    view: &mut HostsView,
    path: &std::path::Path,
    cmds: &mut Vec<Command>,
) {
    let Some(form) = view.form.as_mut() else {
        return;
    };
    let mut open = true;
    let mut submit = false;
    let title = if form.original.is_some() {
        "Edit host"
    } else {
        "Add host"
    };
    egui::Window::new(title)
        .collapsible(false)
        .open(&mut open)
        .show(ui.ctx(), |ui| {
            egui::Grid::new("host_form").num_columns(2).show(ui, |ui| {
                let l = ui.label("Name");
                ui.text_edit_singleline(&mut form.name).labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Target");
                ui.add(
                    egui::TextEdit::singleline(&mut form.target).hint_text("user@address[:port]"),
                )
                .labelled_by(l.id);
                ui.end_row();
                ui.label("Authentication");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut form.auth, AuthKind::Agent, "ssh-agent");
                    ui.radio_value(&mut form.auth, AuthKind::Key, "key file");
                    ui.radio_value(&mut form.auth, AuthKind::Password, "password");
                });
                ui.end_row();
                match form.auth {
                    AuthKind::Key => {
                        let l = ui.label("Key file");
                        ui.horizontal(|ui| {
                            ui.text_edit_singleline(&mut form.key_path)
                                .labelled_by(l.id);
                            if ui.button("Browse…").clicked() {
                                cmds.push(Command::PickFile {
                                    purpose: FilePurpose::PrivateKey,
                                });
                            }
                        });
                        ui.end_row();
                        let l = ui.label("Key passphrase");
                        ui.add(
                            egui::TextEdit::singleline(&mut form.passphrase)
                                .password(true)
                                .hint_text("only for encrypted keys"),
                        )
                        .labelled_by(l.id)
                        .on_hover_text("Stored only in the OS keyring");
                        ui.end_row();
                    }
                    AuthKind::Password => {
                        let l = ui.label("Password");
                        ui.add(egui::TextEdit::singleline(&mut form.password).password(true))
                            .labelled_by(l.id)
                            .on_hover_text("Stored only in the OS keyring");
                        ui.end_row();
                    }
                    AuthKind::Agent => {}
                }
                let l = ui.label("Labels");
                ui.add(egui::TextEdit::singleline(&mut form.labels).hint_text("zone=a, rack=3"))
                    .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Jump host");
                ui.add(
                    egui::TextEdit::singleline(&mut form.jump).hint_text("user@bastion (optional)"),
                )
                .labelled_by(l.id)
                .on_hover_text(
                    "Connect through this SSH server, like ssh -J; several hops are \
                     separated by commas (first,second)",
                );
                ui.end_row();
                ui.label("");
                ui.checkbox(&mut form.sudo, "use sudo -n for Docker");
                ui.end_row();
            });
            if let Some(e) = &form.error {
                ui.colored_label(style::bad(ui), e);
            }
            submit = ui.button("Save").clicked();
        });
    if !open {
        view.form = None;
        return;
    }
    if submit {
        submit_form(view, path, cmds);
    }
}

fn submit_form(view: &mut HostsView, path: &std::path::Path, cmds: &mut Vec<Command>) {
    let Some(form) = view.form.as_mut() else {
        return;
    };
    let spec = match form.to_spec() {
        Ok(s) => s,
        Err(e) => {
            form.error = Some(e);
            return;
        }
    };
    let before = form
        .original
        .as_deref()
        .and_then(|name| view.inventory.as_ref()?.host(name).cloned());
    let taken = view
        .inventory
        .as_ref()
        .and_then(|inv| inv.host(&spec.name))
        .is_some_and(|h| Some(&h.name) != before.as_ref().map(|b| &b.name));
    if taken {
        form.error = Some(format!("a host named {:?} already exists", spec.name));
        return;
    }
    if form.auth == AuthKind::Password && !form.password.is_empty() {
        cmds.push(Command::StoreSecret {
            key: SecretKey::Password {
                user: spec.user.clone(),
                address: spec.address.clone(),
                port: spec.port,
            },
            secret: Secret::new(std::mem::take(&mut form.password)),
        });
    }
    if let (AuthMethod::Key { path }, false) = (&spec.auth, form.passphrase.is_empty()) {
        cmds.push(Command::StoreSecret {
            key: SecretKey::KeyPassphrase { path: path.clone() },
            secret: Secret::new(std::mem::take(&mut form.passphrase)),
        });
    }
    let edit = match before {
        Some(before) => HostEdit::Replace {
            before,
            after: spec,
        },
        None => HostEdit::Add(spec),
    };
    cmds.push(save(path, edit));
    view.form = None;
}

fn key_prompt_window(ui: &mut egui::Ui, view: &mut HostsView, cmds: &mut Vec<Command>) {
    let Some(prompt) = view.key_prompt.clone() else {
        return;
    };
    let mut decision = None;
    egui::Window::new("Unknown host key")
        .collapsible(false)
        .resizable(false)
        .show(ui.ctx(), |ui| {
            ui.label(prompt_text(&prompt));
            ui.monospace(format!("{} {}", prompt.key_type, prompt.fingerprint));
            ui.label(
                "Compare it with the key on the machine itself, e.g. \
                 `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`. Trust it only if it matches.",
            );
            ui.horizontal(|ui| {
                if ui.button("Trust this key and connect").clicked() {
                    decision = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    decision = Some(false);
                }
            });
        });
    match decision {
        Some(true) => {
            let policy = HostKeyPolicy::TrustFingerprint {
                known_as: prompt.known_as.clone(),
                fingerprint: prompt.fingerprint.clone(),
            };
            cmds.push(test(view, prompt.host, policy));
            view.key_prompt = None;
        }
        Some(false) => view.key_prompt = None,
        None => {}
    }
}

/// Whose key the prompt is about: the tested host's, or a jump host's on the way to it.
fn prompt_text(prompt: &KeyPrompt) -> String {
    let whose = if prompt.key_host == prompt.host.name {
        format!("{} ({})", prompt.key_host, prompt.addr)
    } else {
        format!(
            "{} ({}), on the way to {},",
            prompt.key_host, prompt.addr, prompt.host.name
        )
    };
    format!("{whose} presents a host key that no known_hosts file lists:")
}

fn changed_key_window(ui: &mut egui::Ui, view: &mut HostsView) {
    let Some((host, message)) = view.changed_key.clone() else {
        return;
    };
    let mut close = false;
    egui::Window::new("⛔ Host key changed — connection refused")
        .collapsible(false)
        .resizable(false)
        .show(ui.ctx(), |ui| {
            ui.colored_label(
                style::bad(ui),
                RichText::new(format!("The SSH host key of {host} has CHANGED.")).strong().size(16.0),
            );
            ui.label(
                "Someone may be intercepting the connection, or the machine was reinstalled. \
                 swarmdeck will not connect. If the change is expected, remove the old key from \
                 the file named below (after checking the new one on the machine), then test again.",
            );
            ui.monospace(&message);
            close = ui.button("Close").clicked();
        });
    if close {
        view.changed_key = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    /// The panel and the commands it sent.
    struct Shown {
        view: HostsView,
        cmds: Vec<Command>,
    }

    #[test]
    fn editing_an_ipv6_host_keeps_its_address_and_saves_an_edit() {
        let mut v6 = HostSpec::parse_target("root@fd00::1", AuthMethod::Agent).unwrap();
        v6.name = "v6".into();
        let view = HostsView {
            path: Some("inventory.toml".into()),
            inventory: Some(Inventory {
                hosts: vec![v6.clone()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut h = Harness::new_ui_state(
            |ui, s: &mut Shown| {
                let cmds = show(ui, &mut s.view, None);
                s.cmds.extend(cmds);
            },
            Shown {
                view,
                cmds: Vec::new(),
            },
        );
        h.run_steps(2);
        h.get_by_label("root@fd00::1");
        h.get_by_label("Edit").click();
        h.run_steps(2);
        assert_eq!(h.state().view.form.as_ref().unwrap().target, "root@fd00::1");
        h.get_by_label("use sudo -n for Docker").click();
        h.run_steps(2);
        h.get_by_label("Save").click();
        h.run_steps(2);
        let mut after = v6.clone();
        after.sudo = true;
        match h.state().cmds.as_slice() {
            [Command::EditInventory { edit, .. }] => assert_eq!(
                **edit,
                HostEdit::Replace {
                    before: v6.clone(),
                    after
                }
            ),
            other => panic!("expected one inventory edit, got {other:?}"),
        }
    }

    #[test]
    fn form_builds_a_validated_spec() {
        let mut f = HostForm::new();
        f.name = "db".into();
        f.target = "ops@10.1.1.1:2222".into();
        f.labels = "zone=a, rack=3".into();
        let s = f.to_spec().unwrap();
        assert_eq!((s.user.as_str(), s.port), ("ops", 2222));
        assert_eq!(s.labels.get("rack").map(String::as_str), Some("3"));
        assert_eq!(s.jump, None);
        f.jump = "gate@bastion:2200".into();
        assert_eq!(
            f.to_spec().unwrap().jump.as_deref(),
            Some("gate@bastion:2200")
        );
        f.jump = "gate@bad host".into();
        assert!(f.to_spec().unwrap_err().contains("jump host"));
        f.jump.clear();
        f.target = "ops@bad host".into();
        assert!(f.to_spec().is_err());
        f.target = "ops@h".into();
        f.auth = AuthKind::Key;
        assert_eq!(f.to_spec().unwrap_err(), "choose a private key file");
    }

    /// The prompt names whose key it is: a jump host's by its own name and address, with
    /// the tested host only as where the connection was going; consent is for that key's
    /// host alone.
    #[test]
    fn key_prompt_names_the_host_whose_key_it_is() {
        let mut app = HostSpec::parse_target("root@10.0.0.9", AuthMethod::Agent).unwrap();
        app.name = "app".into();
        app.jump = Some("gate@192.0.2.1".into());
        let mut view = HostsView {
            inventory: Some(Inventory {
                hosts: vec![app],
                ..Default::default()
            }),
            ..HostsView::default()
        };
        let unknown = |key_host: &str, addr: &str, known_as: &str| HostTest::UnknownKey {
            key_host: key_host.into(),
            addr: addr.into(),
            known_as: known_as.into(),
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:abc".into(),
        };
        view.on_tested(
            "app".into(),
            unknown("192.0.2.1 (jump host of app)", "192.0.2.1:22", "192.0.2.1"),
        );
        let prompt = view.key_prompt.clone().unwrap();
        assert_eq!(prompt.known_as, "192.0.2.1");
        assert_eq!(
            prompt_text(&prompt),
            "192.0.2.1 (jump host of app) (192.0.2.1:22), on the way to app, presents a host \
             key that no known_hosts file lists:"
        );
        view.on_tested("app".into(), unknown("app", "10.0.0.9:22", "10.0.0.9"));
        let prompt = view.key_prompt.clone().unwrap();
        assert_eq!(
            prompt_text(&prompt),
            "app (10.0.0.9:22) presents a host key that no known_hosts file lists:"
        );
        view.on_tested(
            "app".into(),
            HostTest::ChangedKey {
                key_host: "192.0.2.1 (jump host of app)".into(),
                message: "m".into(),
            },
        );
        assert_eq!(
            view.changed_key.as_ref().map(|(h, _)| h.as_str()),
            Some("192.0.2.1 (jump host of app)")
        );
    }

    /// The form, and the view holding it, print whether a secret was typed, never what.
    #[test]
    fn debug_output_hides_password_and_passphrase() {
        let mut f = HostForm::new();
        f.name = "db".into();
        f.password = "hunter2".into();
        f.passphrase = "correct horse".into();
        let view = HostsView {
            form: Some(f),
            ..Default::default()
        };
        let shown = format!("{view:?} {view:#?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("correct horse"),
            "{shown}"
        );
        assert!(
            shown.contains("<redacted>") && shown.contains("\"db\""),
            "{shown}"
        );
    }
}
