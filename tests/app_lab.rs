//! The desktop app against real lab hosts: kittest drives the real UI, whose service runs
//! the real engine over SSH. From bare hosts to a tested swarm through the wizard, a
//! changed host key refused loudly with no way to override, node actions on cloned
//! hostnames by ID, inventory edits that keep what the CLI wrote meanwhile, and a
//! worker's engine restarted from the Maintenance panel.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::lab::TestLab;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use swarmdeck::inventory::{AuthMethod, HostSpec, Inventory};
use swarmdeck::lab::fault::{self, Fault};
use swarmdeck::outcome::FailureKind;
use swarmdeck::snapshot::Availability;
use swarmdeck::ui::plan_flow::{PlanFlow, Stage};
use swarmdeck::ui::{Panel, RunOptions, SwarmdeckApp};

/// This test binary's directory for the app's audit log and connectivity history, set once
/// as the first thing every test here does, before any app (or thread of one) starts.
fn app_data() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("app_lab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // SAFETY: every test of this binary calls this first, and get_or_init blocks the
        // others until it returns: no other thread reads the environment meanwhile.
        unsafe {
            std::env::set_var("SWARMDECK_AUDIT_LOG", dir.join("audit.jsonl"));
            std::env::set_var("SWARMDECK_CONNECTIVITY_HISTORY", dir.join("runs"));
        }
        dir
    })
}

/// The CLI on `inventory` with `home` as HOME: (success, what it printed).
fn swarmdeck(home: &Path, inventory: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(inventory)
        .args(args)
        .env("HOME", home)
        .env_remove("SWARMDECK_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("$ swarmdeck {}\n{text}", args.join(" "));
    (out.status.success(), text)
}

/// Opens the app on `inventory` at `panel`.
fn app(inventory: std::path::PathBuf, panel: Panel) -> Harness<'static, SwarmdeckApp> {
    let opts = RunOptions {
        inventory: Some(inventory),
        panel: Some(panel),
        ..Default::default()
    };
    Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| SwarmdeckApp::new(&cc.egui_ctx, opts))
}

/// Steps the app until `done` holds (the service answers asynchronously).
fn run_until(h: &mut Harness<'_, SwarmdeckApp>, what: &str, done: impl Fn(&SwarmdeckApp) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}; notices: {:?}; jobs: {:?}",
            h.state().state.notices,
            h.state().state.jobs
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(2);
}

#[test]
fn changed_host_key_is_refused_loudly_in_the_app() {
    app_data();
    let Some(lab) = TestLab::start(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    // A known_hosts that records a different key for the host: what a MITM looks like.
    let other = dir.path().join("other");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let fake = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let fake: Vec<&str> = fake.split_whitespace().take(2).collect();
    let kh = dir.path().join("recorded_hosts");
    std::fs::write(&kh, format!("{} {}\n", lab.hosts[0].ip, fake.join(" "))).unwrap();

    let inv_path = dir.path().join("inv.toml");
    let mut host = HostSpec::parse_target(
        &format!("root@{}", lab.hosts[0].ip),
        AuthMethod::Key {
            path: lab.key.clone(),
        },
    )
    .unwrap();
    host.name = "node1".into();
    Inventory {
        known_hosts: vec![kh.clone()],
        hosts: vec![host],
        ..Default::default()
    }
    .save(&inv_path)
    .unwrap();

    let mut h = app(inv_path, Panel::Hosts);
    run_until(&mut h, "the inventory", |a| {
        a.state.panels.hosts.inventory.is_some()
    });
    h.get_by_label("Test").click();
    run_until(&mut h, "the connection test", |a| {
        matches!(
            a.state.panels.hosts.tests.get("node1"),
            Some(swarmdeck::ui::TestState::Done(_))
        )
    });
    h.get_by_label("⛔ Host key changed — connection refused");
    h.get_by_label("The SSH host key of node1 has CHANGED.");
    // The refusal names the file and line to look at (in the dialog, and in the notice
    // from the snapshot the app took on opening).
    assert!(
        h.query_all_by_label_contains("recorded_hosts:1")
            .next()
            .is_some()
    );
    assert!(
        h.query_by_label("Trust this key and connect").is_none(),
        "a changed key must not be trustable from the app"
    );
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("⛔ Host key changed — connection refused")
            .is_none()
    );
    h.get_by_label("⛔ HOST KEY CHANGED: refused");
}

/// One manager's engine hangs (`kill -STOP`): the overview shows it down and the quorum
/// figures change within seconds, long before the managers notice; once it resumes, the
/// overview is healthy again by itself.
#[test]
fn a_hung_manager_shows_in_the_overview_and_recovers() {
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    lab.ssh_ok("node1", &["docker", "node", "promote", "node2", "node3"]);
    let mut h = app(lab.inventory.clone(), Panel::Overview);
    run_until(&mut h, "a healthy 3-manager swarm", |a| {
        a.state.snapshot.as_ref().is_some_and(fault::all_healthy)
    });
    h.get_by_label("(3 of 3 managers reachable, 2 needed)");

    let hung = lab.inject(Fault::EngineHung, 1).unwrap();
    let t = Instant::now();
    run_until(&mut h, "node2 shown down", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| Fault::EngineHung.is_shown(s, &hung.hosts))
    });
    eprintln!("the app showed the hung engine after {:?}", t.elapsed());
    h.get_by_label("(2 of 3 managers reachable, 2 needed)");
    h.get_by_label("down (engine silent)");
    assert!(
        h.query_all_by_label_contains("node2: Docker engine not answering since")
            .next()
            .is_some(),
        "the banner names the host, the layer and since when"
    );

    lab.heal(hung).unwrap();
    let t = Instant::now();
    run_until(&mut h, "the swarm healthy again", |a| {
        a.state.snapshot.as_ref().is_some_and(fault::all_healthy)
    });
    eprintln!("the app showed the recovery after {:?}", t.elapsed());
    h.get_by_label("(3 of 3 managers reachable, 2 needed)");
    assert!(h.query_by_label("down (engine silent)").is_none());
}

/// Waits until a widget labelled `label` is on screen (a window that just opened may lay
/// itself out over a few frames).
fn wait_shown(h: &mut Harness<'_, SwarmdeckApp>, label: &str) {
    let start = Instant::now();
    while h.query_by_label(label).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{label:?} never appeared"
        );
        h.run_steps(1);
        std::thread::sleep(Duration::from_millis(20));
    }
    // A window that just opened is measured in one frame and placed in the next.
    h.run_steps(3);
}

/// Clicks the widget labelled `label` once it is on screen and lets the app take the
/// click in.
fn click(h: &mut Harness<'_, SwarmdeckApp>, label: &str) {
    wait_shown(h, label);
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// The plan flow of the wizard stage on screen.
fn wizard_flow(a: &SwarmdeckApp) -> &PlanFlow {
    a.state
        .panels
        .wizard
        .current_flow()
        .expect("a build stage is open")
}

/// Confirms the plan under review in the modal and waits until it is applied.
fn apply_reviewed(h: &mut Harness<'_, SwarmdeckApp>, flow: fn(&SwarmdeckApp) -> &PlanFlow) {
    click(h, "Apply…");
    // Nothing changes before the user says yes.
    wait_shown(h, "Change these hosts?");
    click(h, "Yes, apply");
    run_until(h, "the steps to be applied", |a| flow(a).result().is_some());
    let applied = flow(h.state()).result().cloned().unwrap();
    assert!(applied.is_ok(), "applied: {applied:?}");
}

/// The wizard plans a stage as it opens: check the plan, confirm, wait until applied.
fn plan_and_apply(h: &mut Harness<'_, SwarmdeckApp>, expect_cli: &str) {
    run_until(h, "the plan", |a| wizard_flow(a).plan().is_some());
    assert!(
        h.query_all_by_label_contains(expect_cli).next().is_some(),
        "the plan shows the CLI equivalent {expect_cli:?}"
    );
    apply_reviewed(h, wizard_flow);
    click(h, "Next ▶");
}

fn networks_flow(a: &SwarmdeckApp) -> &PlanFlow {
    &a.state.panels.networks.flow
}

fn topology_flow(a: &SwarmdeckApp) -> &PlanFlow {
    &a.state.panels.topology.flow
}

/// Selects the topology card labelled `card` and plans a drain of its node.
fn plan_drain(h: &mut Harness<'_, SwarmdeckApp>, card: &str) {
    // Inside the pan/zoom scene, activate the card the way assistive technology does.
    h.get_by_label(card).click_accesskit();
    h.run_steps(2);
    click(h, "Drain");
    run_until(h, "the drain plan", |a| topology_flow(a).plan().is_some());
}

#[test]
fn wizard_builds_and_tests_a_swarm_from_bare_hosts() {
    let data = app_data();
    let Some(lab) = TestLab::start(3) else { return };
    let mut h = app(lab.inventory.clone(), Panel::Wizard);
    run_until(&mut h, "the inventory", |a| {
        a.state.panels.hosts.inventory.is_some()
    });
    h.get_by_label("• node3");

    // Preflight runs by itself as its step opens.
    click(&mut h, "Next ▶");
    run_until(&mut h, "preflight", |a| a.state.preflight.is_some());
    let pre = h.state().state.preflight.clone().unwrap();
    assert!(
        pre.errors().next().is_none(),
        "bare lab hosts pass preflight: {:?}",
        pre.findings
    );
    // Findings shared by the three hosts are one row, and the step ends with its verdict.
    let verdict = pre.verdict();
    assert!(verdict.ready(), "{verdict}");
    wait_shown(&mut h, &verdict.to_string());
    let grouped = pre.grouped();
    assert!(grouped.len() < pre.findings.len(), "{grouped:?}");
    // A problem found on every host is one row (informational rows are folded away).
    for g in grouped
        .iter()
        .filter(|g| g.hosts.len() == 3 && g.severity != swarmdeck::severity::Severity::Info)
    {
        let row = g.line(3);
        assert!(row.starts_with("all 3 hosts"), "{row}");
        assert!(
            h.query_all_by_label_contains(&row).next().is_some(),
            "{row:?} is shown once for the three hosts"
        );
    }
    click(&mut h, "Next ▶");
    h.get_by_label_contains("Swarm needs 2377/tcp");
    click(&mut h, "Next ▶");

    plan_and_apply(&mut h, "docker swarm init --advertise-addr");
    plan_and_apply(&mut h, "docker swarm join --token <redacted>");
    plan_and_apply(&mut h, "docker network create");

    // Re-planning a finished stage changes nothing: the wizard resumes and skips what is done.
    click(&mut h, "4 Init");
    run_until(&mut h, "the plan", |a| wizard_flow(a).plan().is_some());
    h.get_by_label("Nothing to change: the hosts are already so.");

    // The snapshot followed: three ready nodes and the overlay.
    run_until(&mut h, "a snapshot of the swarm", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.len() == 3 && s.networks.iter().any(|n| n.name == "appnet"))
    });

    // Test, inside the wizard: the connectivity matrix over the new overlay, all passing.
    click(&mut h, "7 Test");
    click(&mut h, "▶ Test appnet");
    run_until(&mut h, "the wizard's connectivity report", |a| {
        a.state.panels.wizard.test_report.is_some()
    });
    let report = h.state().state.panels.wizard.test_report.clone().unwrap();
    assert!(
        report.healthy(),
        "{}",
        swarmdeck::connectivity::render::render(&report)
    );
    assert_eq!(
        report.network.as_ref().map(|n| n.name.as_str()),
        Some("appnet")
    );
    assert_eq!(report.cells.len(), 6, "3×3 without the diagonal");
    assert!(report.cleaned_up);
    h.get_by_label("healthy: every pair passed");
    h.get_by_label("node1 → node2");
    h.get_by_label("Your swarm is built and its overlay works between every pair of hosts.");
    // The Connectivity panel offers the same overlay first, and keeps the run.
    click(&mut h, "Connectivity");
    assert_eq!(
        h.state()
            .state
            .panels
            .connectivity
            .request
            .network
            .as_deref(),
        Some("appnet")
    );
    assert_eq!(
        h.state()
            .state
            .connectivity
            .as_ref()
            .map(|r| r.run_id.as_str()),
        Some(report.run_id.as_str())
    );

    // Networks: an encrypted overlay is refused on this kernel, with the reason; a plain one
    // is planned, confirmed and created.
    click(&mut h, "Networks");
    let name = h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Name");
    name.focus();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "Name")
        .type_text("secnet");
    h.run_steps(2);
    assert_eq!(h.state().state.panels.networks.name, "secnet");
    click(&mut h, "encrypted (IPsec between hosts)");
    click(&mut h, "Plan");
    run_until(&mut h, "the network plan", |a| {
        matches!(networks_flow(a).stage, Stage::Refused { .. })
    });
    let Stage::Refused { failure } = networks_flow(h.state()).stage.clone() else {
        unreachable!()
    };
    assert_eq!(failure.kind, FailureKind::Refused, "{failure:?}");
    let refused = failure.message;
    assert!(
        refused.contains("refusing to create an encrypted overlay"),
        "{refused}"
    );
    assert!(
        refused.contains("CONFIG_INET_ESP") || refused.contains("ESP"),
        "{refused}"
    );
    click(&mut h, "encrypted (IPsec between hosts)");
    click(&mut h, "Plan");
    run_until(&mut h, "the network plan", |a| {
        networks_flow(a).plan().is_some()
    });
    apply_reviewed(&mut h, networks_flow);
    run_until(&mut h, "the network", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.networks.iter().any(|n| n.name == "secnet"))
    });

    // Topology: drain a worker through the node's actions, confirmed, then seen live.
    click(&mut h, "Topology");
    plan_drain(&mut h, "node3");
    apply_reviewed(&mut h, topology_flow);
    run_until(&mut h, "node3 drained", |a| {
        a.state.snapshot.as_ref().is_some_and(|s| {
            s.nodes
                .iter()
                .any(|n| n.hostname == "node3" && n.availability == Availability::Drain)
        })
    });

    // Every change was audited with its CLI equivalent, and no token was written.
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("docker swarm init") && audit.contains("docker swarm join"));
    assert!(audit.contains("secnet") && audit.contains("--availability drain node3"));
    assert!(!audit.contains("SWMTKN-"), "no join token in the audit log");
}

#[test]
fn practice_lab_button_starts_a_lab_and_opens_it() {
    app_data();
    if !common::lab::lab_available() {
        return;
    }
    // The button always uses the lab named "practice": never take over one that a user has.
    if swarmdeck::lab::load(swarmdeck::lab::DEFAULT_NAME).is_ok() {
        eprintln!("NOT RUN: a lab named 'practice' already exists on this machine");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI machines start without labs"
        );
        return;
    }
    struct Down;
    impl Drop for Down {
        fn drop(&mut self) {
            let _ = swarmdeck::lab::down(swarmdeck::lab::DEFAULT_NAME);
        }
    }
    let _down = Down;
    let mut h = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(|cc| SwarmdeckApp::new(&cc.egui_ctx, RunOptions::default()));
    h.run_steps(2);
    click(
        &mut h,
        "Start a practice lab (3 hosts on this machine, needs root)",
    );
    run_until(&mut h, "the practice lab's snapshot", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.hosts.len() == 3 && s.hosts.iter().all(|h| h.error.is_none()))
    });
    let lab = swarmdeck::lab::load(swarmdeck::lab::DEFAULT_NAME).expect("the lab is up");
    assert_eq!(
        h.state().state.source,
        swarmdeck::ui::Source::Inventory(lab.inventory.clone())
    );
    // Its hosts are no swarm yet: the overview shows each one and leads into the wizard.
    h.run_steps(2);
    h.get_by_label("Hosts, not a swarm yet");
    assert_eq!(h.query_all_by_label("✔ yes").count(), 3);
    assert_eq!(h.query_all_by_label("not in a swarm").count(), 3);
    assert!(h.query_by_label("no managers").is_none());
    click(&mut h, "Build a swarm with the wizard");
    assert_eq!(h.state().state.panel, Panel::Wizard);
}

/// Two swarm nodes with one hostname (cloned machines): the topology tells their cards
/// apart, and draining the second from its card drains that node, by ID, while the first
/// stays active. The CLI refuses the shared hostname, listing both IDs, and takes an ID.
#[test]
fn a_cloned_hostname_drains_the_node_chosen_in_the_topology() {
    let data = app_data();
    let Some(lab) = TestLab::start(3) else { return };
    // node3 takes node2's hostname before it joins: the swarm then has two "node2".
    lab.form_swarm(|host| {
        if host == "node3" {
            lab.ssh_ok("node3", &["hostname", "node2"]);
        }
    });
    let node_id = |host| lab.ssh_ok(host, &["docker", "info", "--format", "{{.Swarm.NodeID}}"]);
    let (first, second) = (node_id("node2"), node_id("node3"));
    let names = lab.ssh_ok(
        "node1",
        &["docker", "node", "ls", "--format", "{{.Hostname}}"],
    );
    assert_eq!(names.matches("node2").count(), 2, "{names}");

    let mut h = app(lab.inventory.clone(), Panel::Topology);
    run_until(&mut h, "both nodes named node2", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.iter().filter(|n| n.hostname == "node2").count() == 2)
    });
    let label = format!("node2 ({})", &second[..12]);
    plan_drain(&mut h, &label);
    let cli = format!("docker node update --availability drain {second}");
    assert!(
        h.query_all_by_label_contains(&cli).next().is_some(),
        "the plan names the node by ID: {cli}"
    );
    apply_reviewed(&mut h, topology_flow);
    run_until(&mut h, "the second node2 drained", |a| {
        a.state.snapshot.as_ref().is_some_and(|s| {
            s.nodes
                .iter()
                .any(|n| n.id == second && n.availability == Availability::Drain)
        })
    });
    let availability = |id: &str| {
        lab.ssh_ok(
            "node1",
            &[
                "docker",
                "node",
                "inspect",
                "--format",
                "{{.Spec.Availability}}",
                id,
            ],
        )
    };
    assert_eq!(availability(&second), "drain");
    assert_eq!(
        availability(&first),
        "active",
        "the other node2 was touched"
    );

    let (ok, text) = swarmdeck(data, &lab.inventory, &["node", "pause", "node2"]);
    assert!(!ok, "a shared hostname must be refused:\n{text}");
    assert!(text.contains("several nodes are named \"node2\""), "{text}");
    assert!(text.contains(&first) && text.contains(&second), "{text}");
    let (ok, text) = swarmdeck(data, &lab.inventory, &["node", "pause", &first]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("docker node update --availability pause {first}")),
        "{text}"
    );
}

/// The Hosts panel saves an edit onto the inventory file as it is at that moment: a host the
/// CLI added after the app loaded the file stays, and the IPv6 host edited keeps its address
/// and port. (Both hosts are on loopback: opening the inventory connects to them.)
#[test]
fn a_gui_edit_keeps_the_host_the_cli_added_meanwhile() {
    let data = app_data();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.toml");
    let mut v6 = HostSpec::parse_target("root@[::1]:1", AuthMethod::Agent).unwrap();
    v6.name = "v6".into();
    Inventory {
        hosts: vec![v6.clone()],
        ..Default::default()
    }
    .save(&inv)
    .unwrap();
    let mut h = app(inv.clone(), Panel::Hosts);
    run_until(&mut h, "the inventory", |a| {
        a.state.panels.hosts.inventory.is_some()
    });
    let (ok, text) = swarmdeck(data, &inv, &["hosts", "add", "cli1", "root@127.0.0.1:1"]);
    assert!(ok, "{text}");
    // The app still holds the copy it loaded; the user edits the IPv6 host there.
    assert_eq!(
        h.state()
            .state
            .panels
            .hosts
            .inventory
            .as_ref()
            .unwrap()
            .hosts
            .len(),
        1
    );
    click(&mut h, "Edit");
    click(&mut h, "use sudo -n for Docker");
    click(&mut h, "Save");
    run_until(&mut h, "the saved inventory", |a| {
        a.state
            .panels
            .hosts
            .inventory
            .as_ref()
            .is_some_and(|i| i.hosts.len() == 2)
    });
    let saved = Inventory::load(&inv).unwrap();
    let names: Vec<&str> = saved.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["v6", "cli1"], "the CLI's host was dropped");
    let edited = saved.host("v6").unwrap();
    assert_eq!((edited.address.as_str(), edited.port), ("::1", 1));
    assert!(edited.sudo, "the edit was saved");
}

/// A second change while one runs is refused with a notice naming the running one, and the
/// first change's step events reach its own panel only. The first change waits on a host
/// whose SSH server accepts connections and never speaks (a hung sshd, on loopback); it
/// ends at the login deadline with a failure that names the host and the SSH layer.
#[test]
fn a_second_change_while_one_runs_is_refused_with_a_notice() {
    use swarmdeck::snapshot::Layer;
    use swarmdeck::swarm::{Action, OverlaySpec, Plan, Step};
    use swarmdeck::ui::wizard_panel;

    let data = app_data();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.toml");
    let mut host =
        HostSpec::parse_target(&format!("root@127.0.0.1:{port}"), AuthMethod::Agent).unwrap();
    host.name = "hung1".into();
    let mut inventory = Inventory {
        known_hosts: vec![dir.path().join("known_hosts")],
        hosts: vec![host],
        ..Default::default()
    };
    inventory.timeouts.login = Some(6);
    inventory.save(&inv).unwrap();
    let overlay = |name: &str| {
        Plan::of(Step::new(
            "hung1",
            Action::CreateOverlay(OverlaySpec {
                name: name.into(),
                attachable: true,
                ..Default::default()
            }),
            0,
        ))
    };

    let mut h = app(inv, Panel::Networks);
    h.state_mut().state.panels.networks.flow.stage = Stage::Review {
        plan: overlay("first"),
    };
    apply_started(&mut h);
    run_until(&mut h, "the first change to start", |a| {
        a.state.jobs.running().any(|(_, j)| j.started)
    });

    // The wizard asks for another change meanwhile.
    {
        let state = &mut h.state_mut().state;
        state.panel = Panel::Wizard;
        state.panels.wizard.stage = wizard_panel::Stage::Init;
        state.panels.wizard.init.stage = Stage::Review {
            plan: overlay("second"),
        };
    }
    apply_started(&mut h);
    run_until(&mut h, "the refusal", |a| {
        a.state.notices.iter().any(|n| {
            n.text
                .contains("would run alongside the change in progress")
        })
    });
    assert!(
        h.query_all_by_label_contains("would run alongside the change in progress")
            .next()
            .is_some(),
        "the notice is on screen"
    );
    assert!(matches!(
        h.state().state.panels.wizard.init.stage,
        Stage::Review { .. }
    ));
    assert!(matches!(
        h.state().state.panels.networks.flow.stage,
        Stage::Applying { .. }
    ));

    // The first change ends at the login deadline; its outcome goes to the Networks panel.
    run_until(&mut h, "the first change to end", |a| {
        a.state.panels.networks.flow.result().is_some()
    });
    let Stage::Done { steps, result } = h.state().state.panels.networks.flow.stage.clone() else {
        unreachable!()
    };
    let failure = result.unwrap_err();
    assert_eq!(failure.host.as_deref(), Some("hung1"), "{failure:?}");
    assert_eq!(failure.layer, Some(Layer::Ssh), "{failure:?}");
    assert_eq!(steps.len(), 1);
    assert!(
        matches!(
            h.state().state.panels.wizard.init.stage,
            Stage::Review { .. }
        ),
        "the wizard got none of the other panel's events"
    );
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("hung1") && l.contains("first") && l.contains("failed")),
        "{audit}"
    );
    assert!(
        !audit.contains("second"),
        "the refused change touched nothing"
    );
}

/// Clicks Apply… and confirms in the modal.
fn apply_started(h: &mut Harness<'_, SwarmdeckApp>) {
    click(h, "Apply…");
    wait_shown(h, "Change these hosts?");
    click(h, "Yes, apply");
}

/// Tasks of the service `name` that run now, as the app's snapshot has them.
fn running_tasks(a: &SwarmdeckApp, name: &str) -> usize {
    use swarmdeck::snapshot::TaskState;
    let Some(snap) = &a.state.snapshot else {
        return 0;
    };
    let Some(service) = snap.services.iter().find(|s| s.name == name) else {
        return 0;
    };
    snap.tasks
        .iter()
        .filter(|t| t.service_id == service.id && t.state == TaskState::Running)
        .count()
}

/// Services made with the plain docker CLI on a manager (not by swarmdeck) appear in the
/// Services and Placement panels by themselves, and scaling one adds its card, with no
/// refresh: the live view follows Docker events.
#[test]
fn services_made_by_the_docker_cli_appear_live_and_scaling_adds_cards() {
    app_data();
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    let mut h = app(lab.inventory.clone(), Panel::Services);
    run_until(&mut h, "the swarm", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.len() == 3)
    });
    let t = Instant::now();
    lab.create_service("web", &[], &["sleep", "3600"]);
    run_until(&mut h, "web running", |a| running_tasks(a, "web") == 1);
    eprintln!(
        "the app showed the new service running after {:?}",
        t.elapsed()
    );
    wait_shown(&mut h, "web");
    click(&mut h, "Placement");
    wait_shown(&mut h, "web.1");
    assert!(h.query_by_label("web.2").is_none());

    let t = Instant::now();
    lab.ssh_ok(
        "node1",
        &["docker", "service", "scale", "--detach", "web=2"],
    );
    run_until(&mut h, "web scaled to 2", |a| running_tasks(a, "web") == 2);
    eprintln!("the app showed the scaled service after {:?}", t.elapsed());
    wait_shown(&mut h, "web.2");
    wait_shown(&mut h, "web.1");
}

/// `(node, counter)` of every line the Logs panel holds, oldest first ("node2 17" → 17),
/// checking that each was written on the node it is said to come from and that the
/// times never go back.
fn log_lines(a: &SwarmdeckApp) -> Vec<(String, u64)> {
    let buf = &a.state.panels.logs.lines;
    let (first, end) = buf.span();
    let lines: Vec<_> = (first..end).filter_map(|n| buf.get(n)).collect();
    for pair in lines.windows(2) {
        // The engines write fixed-width UTC times: text order is time order.
        assert!(
            pair[0].time <= pair[1].time,
            "out of time order: {} then {}",
            pair[0].time,
            pair[1].time
        );
    }
    lines
        .iter()
        .map(|l| {
            let (node, n) = l.line.split_once(' ').expect("NODE COUNTER");
            assert_eq!(node, l.node, "written on the node it is said to come from");
            (l.node.clone(), n.parse().expect("a counter"))
        })
        .collect()
}

/// The highest counter seen from `node` (None: no line from it yet).
fn newest_from(a: &SwarmdeckApp, node: &str) -> Option<u64> {
    log_lines(a)
        .into_iter()
        .filter(|(n, _)| n == node)
        .map(|(_, c)| c)
        .max()
}

/// A service writing a line every 0.2 s on each of three nodes, read in the Logs panel:
/// lines from all three in time order, a search narrows them, Follow brings new ones into
/// view, and with node3's sshd killed node3 is named (host and layer) while node1's and
/// node2's lines keep coming.
#[test]
fn logs_of_three_nodes_in_the_app_search_follow_and_name_a_lost_node() {
    use swarmdeck::ui::logs_panel::Reading;
    use swarmdeck::workloads::logs::LogNotice;
    app_data();
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    lab.create_service(
        "ticker",
        &["--mode", "global", "--hostname", "{{.Node.Hostname}}"],
        &[
            "sh",
            "-c",
            "i=0; while true; do echo \"$(hostname) $i\"; i=$((i+1)); sleep 0.2; done",
        ],
    );
    let mut h = app(lab.inventory.clone(), Panel::Services);
    run_until(&mut h, "ticker running on 3 nodes", |a| {
        running_tasks(a, "ticker") == 3
    });
    click(&mut h, "ticker");
    h.get_by_label("Show logs").click();
    h.run_steps(2);
    assert_eq!(h.state().state.panel, Panel::Logs);
    let t = Instant::now();
    run_until(&mut h, "lines from the three nodes", |a| {
        let reading = &a.state.panels.logs.reading;
        assert!(
            !matches!(reading, Reading::Failed(_) | Reading::Ended),
            "the read stopped: {reading:?}"
        );
        ["node1", "node2", "node3"]
            .iter()
            .all(|n| newest_from(a, n).is_some())
    });
    eprintln!("the first lines of all three nodes after {:?}", t.elapsed());
    wait_shown(&mut h, "● Streaming from the nodes");

    // Follow: new lines from every node, and the newest is in view.
    let before: Vec<Option<u64>> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| newest_from(h.state(), n))
        .collect();
    run_until(&mut h, "new lines from every node", |a| {
        ["node1", "node2", "node3"]
            .iter()
            .zip(&before)
            .all(|(n, b)| newest_from(a, n) > *b)
    });
    let newest = {
        let buf = &h.state().state.panels.logs.lines;
        buf.get(buf.span().1 - 1).unwrap().line.clone()
    };
    assert!(!h.state().state.panels.logs.paused);
    assert!(
        h.query_by_label(&newest).is_some(),
        "following keeps the newest line ({newest}) in view"
    );

    // Search narrows the lines to node2's.
    h.get_by_label("Search:").click();
    h.run_steps(1);
    h.get_by_label("Search:").type_text("NODE2");
    h.run_steps(3);
    assert!(
        h.query_all_by_label_contains("lines match")
            .next()
            .is_some(),
        "the match count is shown"
    );
    assert!(h.query_all_by_label_contains("node2 ").next().is_some());
    assert!(
        h.query_all_by_label_contains("node1 ").next().is_none()
            && h.query_all_by_label_contains("node3 ").next().is_none(),
        "only node2's lines are shown"
    );
    h.get_by_label("Clear search").click();
    h.run_steps(2);

    // node3's sshd killed: node3 named with its layer; node1 and node2 keep streaming.
    let injected = lab.inject(Fault::SshdKilled, 2).unwrap();
    let t = Instant::now();
    run_until(&mut h, "a notice naming node3", |a| {
        a.state.panels.logs.notices.iter().any(|n| match n {
            LogNotice::Unreachable { host, .. } | LogNotice::BrokeOff { host, .. } => {
                host == "node3"
            }
            LogNotice::NotInInventory { .. } => false,
        })
    });
    eprintln!(
        "node3 named after {:?}: {:?}",
        t.elapsed(),
        h.state().state.panels.logs.notices
    );
    let row = h
        .query_all_by_label_contains("⚠ node3: SSH — ")
        .filter_map(|n| n.accesskit_node().value())
        .find(|l| l.ends_with("; other nodes streaming"));
    eprintln!("the notice row: {row:?}");

    assert!(
        row.is_some(),
        "the notice row names node3 and the SSH layer, and says the others stream on"
    );
    let at_loss = [
        newest_from(h.state(), "node1"),
        newest_from(h.state(), "node2"),
    ];
    run_until(&mut h, "node1 and node2 still streaming", |a| {
        newest_from(a, "node1") > at_loss[0] && newest_from(a, "node2") > at_loss[1]
    });
    lab.heal(injected).unwrap();
}

/// The console rows of the app, as (kind, text).
fn console_rows(a: &SwarmdeckApp) -> Vec<(swarmdeck::ui::console_panel::RowKind, String)> {
    let rows = a.state.panels.console.rows.rows();
    rows.iter()
        .map(|r| (r.kind.clone(), r.text.clone()))
        .collect()
}

/// Types `line` into the console's input and runs it with Enter; waits for its exit code.
fn console_run(
    h: &mut Harness<'_, SwarmdeckApp>,
    line: &str,
) -> Vec<(swarmdeck::ui::console_panel::RowKind, String)> {
    use egui::accesskit::Role;
    use swarmdeck::ui::console_panel::RowKind;
    let before = console_rows(h.state()).len();
    h.get_by_role_and_label(Role::TextInput, "$").focus();
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, "$")
        .type_text(line);
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
    assert_eq!(
        console_rows(h.state()).get(before),
        Some(&(RowKind::Command, format!("$ {line}"))),
        "Enter runs the line"
    );
    run_until(h, &format!("the exit code of {line:?}"), |a| {
        console_rows(a)[before..]
            .iter()
            .any(|(k, _)| matches!(k, RowKind::Exit(_) | RowKind::Note))
    });
    console_rows(h.state())[before..].to_vec()
}

/// A console into the task of a service pinned to the last of three nodes, opened from
/// the Services panel: `hostname` prints the container's hostname (as `docker inspect`
/// on that node has it), a command's stderr and exit code come back as such, Up recalls
/// a line and Stop stops a long command at once.
#[test]
fn a_console_runs_commands_in_a_task_on_its_node() {
    use swarmdeck::ui::console_panel::RowKind;
    app_data();
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    lab.create_service(
        "pinned",
        &["--constraint", "node.hostname==node3"],
        &["sleep", "3600"],
    );
    let mut h = app(lab.inventory.clone(), Panel::Services);
    run_until(&mut h, "pinned running", |a| {
        running_tasks(a, "pinned") == 1
    });
    click(&mut h, "pinned");
    click(&mut h, "Open console");
    assert_eq!(h.state().state.panel, Panel::Console);
    let target = h.state().state.panels.console.target.clone().unwrap();
    assert_eq!(target.node, "node3");
    let snap = h.state().state.snapshot.clone().unwrap();
    let task = snap.tasks.iter().find(|t| t.id == target.task_id).unwrap();
    let container = task.container_id.clone().unwrap();
    // Found on node3's own engine: the task's container is there.
    let expected = lab.ssh_ok(
        "node3",
        &[
            "docker",
            "inspect",
            "-f",
            "{{.Config.Hostname}}",
            &container,
        ],
    );
    let expected = expected.trim();
    assert!(!expected.is_empty());

    let rows = console_run(&mut h, "hostname");
    eprintln!("hostname: {rows:?}");
    assert!(
        rows.contains(&(RowKind::Stdout, expected.to_string())),
        "the container's hostname {expected}: {rows:?}"
    );
    assert_eq!(rows.last().unwrap().0, RowKind::Exit(0), "{rows:?}");
    let located = h.state().state.panels.console.located.clone().unwrap();
    assert_eq!(located.0, "node3", "run by node3's engine");

    let rows = console_run(&mut h, "sh -c 'echo err >&2; exit 3'");
    eprintln!("stderr and exit 3: {rows:?}");
    assert!(
        rows.contains(&(RowKind::Stderr, "err".to_string())),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|(k, _)| *k == RowKind::Stdout),
        "nothing on stdout: {rows:?}"
    );
    assert_eq!(rows.last().unwrap().0, RowKind::Exit(3), "{rows:?}");
    h.get_by_label("exit 3");

    // Up recalls the last line.
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "$")
        .focus();
    h.run_steps(1);
    h.key_press(egui::Key::ArrowUp);
    h.run_steps(2);
    assert_eq!(
        h.state().state.panels.console.input,
        "sh -c 'echo err >&2; exit 3'"
    );

    // Stop: a long command is no longer read, at once; the console takes the next line.
    h.state_mut().state.panels.console.input.clear();
    h.run_steps(1);
    h.get_by_role_and_label(egui::accesskit::Role::TextInput, "$")
        .type_text("sleep 60; echo late");
    h.run_steps(1);
    click(&mut h, "Run");
    assert!(h.state().state.panels.console.job.is_some());
    let t = Instant::now();
    click(&mut h, "Stop");
    run_until(&mut h, "the command stopped", |a| {
        a.state.panels.console.job.is_none()
    });
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let rows = console_rows(h.state());
    assert!(
        rows.last()
            .is_some_and(|(k, t)| *k == RowKind::Note && t.starts_with("stopped")),
        "{rows:?}"
    );
    let rows = console_run(&mut h, "echo again");
    assert!(
        rows.contains(&(RowKind::Stdout, "again".to_string())),
        "{rows:?}"
    );
}

fn maintenance_flow(a: &SwarmdeckApp) -> &PlanFlow {
    &a.state.panels.maintenance.flow
}

/// The Maintenance panel restarts a worker's engine: the node chosen by its check box, the
/// command typed, the plan (drain, the command on the node's host, back, restored, tasks
/// back) confirmed and applied; the engine really restarted and the node active again.
#[test]
fn the_maintenance_panel_restarts_a_workers_engine_node_by_node() {
    app_data();
    let Some(lab) = TestLab::start(2) else { return };
    lab.form_swarm(|_| {});
    let pid = || lab.ssh_ok("node2", &["cat", "/run/docker.pid"]);
    let before = pid();
    let mut h = app(lab.inventory.clone(), Panel::Maintenance);
    run_until(&mut h, "the swarm", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.len() == 2)
    });
    click(&mut h, "node2");
    h.state_mut().state.panels.maintenance.command = "service docker restart".into();
    h.run_steps(2);
    click(&mut h, "Plan maintenance");
    run_until(&mut h, "the maintenance plan", |a| {
        maintenance_flow(a).plan().is_some()
    });
    let plan = maintenance_flow(h.state()).plan().cloned().unwrap();
    let clis: Vec<(&str, &str)> = plan
        .steps
        .iter()
        .map(|s| (s.host.as_str(), s.cli.as_str()))
        .collect();
    assert_eq!(
        clis[0],
        ("node1", "docker node update --availability drain node2"),
        "{}",
        plan.render()
    );
    assert!(
        clis.contains(&("node2", "sh -c 'service docker restart'")),
        "{}",
        plan.render()
    );
    assert!(plan.steps.iter().all(|s| !s.cli.contains("node1 ")));
    wait_shown(&mut h, "Apply…");
    apply_reviewed(&mut h, maintenance_flow);
    assert_ne!(pid(), before, "node2's engine was restarted");
    let availability = lab.ssh_ok(
        "node1",
        &[
            "docker",
            "node",
            "inspect",
            "node2",
            "--format",
            "{{.Spec.Availability}}",
        ],
    );
    assert_eq!(availability, "active");
}

fn stacks_flow(a: &SwarmdeckApp) -> &PlanFlow {
    &a.state.panels.stacks.flow
}

/// The stack `stack`'s services in the app's snapshot, by name.
fn stack_services(a: &SwarmdeckApp, stack: &str) -> Vec<String> {
    let Some(snap) = &a.state.snapshot else {
        return Vec::new();
    };
    snap.services
        .iter()
        .filter(|s| s.stack.as_deref() == Some(stack))
        .map(|s| s.name.clone())
        .collect()
}

/// The Stacks panel deploys a Compose file as a stack (plan with the docker CLI
/// equivalents, confirm, apply), the stack's service appears in the live view, and the
/// stack's Remove takes it away again, through the same plan flow.
#[test]
fn the_stacks_panel_deploys_a_compose_file_and_removes_the_stack() {
    app_data();
    let Some(lab) = TestLab::start(1) else { return };
    lab.form_swarm(|_| {});
    let mut h = app(lab.inventory.clone(), Panel::Stacks);
    run_until(&mut h, "the swarm", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.len() == 1)
    });
    wait_shown(&mut h, "No stacks on this swarm yet.");
    let compose =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose/01-minimal/docker-compose.yml");
    {
        // As the file dialog and typing leave the form.
        let form = &mut h.state_mut().state.panels.stacks;
        form.picked(swarmdeck::stack::StackFile::Compose, compose);
        form.name = "mini".into();
    }
    h.run_steps(2);
    click(&mut h, "Plan");
    run_until(&mut h, "the deploy plan", |a| {
        stacks_flow(a).plan().is_some()
    });
    let plan = stacks_flow(h.state()).plan().cloned().unwrap();
    assert!(
        plan.steps
            .iter()
            .any(|s| s.cli.contains("docker service create") && s.cli.contains("mini_app")),
        "{}",
        plan.render()
    );
    wait_shown(&mut h, "Apply…");
    apply_reviewed(&mut h, stacks_flow);
    run_until(&mut h, "mini_app in the snapshot", |a| {
        stack_services(a, "mini") == ["mini_app"]
    });
    wait_shown(&mut h, "mini");

    click(&mut h, "Remove…");
    run_until(&mut h, "the remove plan", |a| {
        stacks_flow(a).plan().is_some()
    });
    apply_reviewed(&mut h, stacks_flow);
    run_until(&mut h, "the stack gone", |a| {
        stack_services(a, "mini").is_empty()
    });

    // A file with keys docker ignores: the plan carries the loading warnings as notes.
    let ignored = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compose/11-global-and-ignored-keys/docker-compose.yml");
    h.state_mut()
        .state
        .panels
        .stacks
        .picked(swarmdeck::stack::StackFile::Compose, ignored);
    h.run_steps(2);
    click(&mut h, "Plan");
    run_until(&mut h, "the plan with warnings", |a| {
        stacks_flow(a).plan().is_some()
    });
    let notes = stacks_flow(h.state()).plan().unwrap().notes.clone();
    for key in ["`build`", "`container_name`"] {
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with(swarmdeck::swarm::plan::WARNING) && n.contains(key)),
            "no warning for {key} in the notes: {notes:?}"
        );
    }
    wait_shown(&mut h, "Apply…");
}

/// Waits until a task of the service `uses` reads `want` at /run/secrets/apitoken.
fn wait_secret_read(lab: &TestLab, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = lab.ssh(
            "node1",
            &[
                "sh",
                "-c",
                "docker exec $(docker ps -q -f label=com.docker.swarm.service.name=uses | head -1) cat /run/secrets/apitoken",
            ],
        );
        if String::from_utf8_lossy(&out.stdout) == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the task never read the expected value"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn secrets_flow(a: &SwarmdeckApp) -> &PlanFlow {
    &a.state.panels.secrets.flow
}

fn secret_names(a: &SwarmdeckApp) -> Vec<String> {
    a.state
        .snapshot
        .as_ref()
        .map(|s| s.secrets.clone())
        .unwrap_or_default()
}

#[test]
fn the_secrets_panel_creates_a_secret_and_rotates_it_under_a_running_service() {
    let dir = app_data();
    let Some(lab) = TestLab::start(1) else { return };
    lab.form_swarm(|_| {});
    let mut h = app(lab.inventory.clone(), Panel::Secrets);
    run_until(&mut h, "the swarm", |a| {
        a.state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.nodes.len() == 1)
    });
    wait_shown(&mut h, "No secrets.");
    {
        // As typing leaves the form.
        let form = &mut h.state_mut().state.panels.secrets;
        (form.name, form.typed) = ("apitoken".into(), "first-Zq81-value".into());
    }
    h.run_steps(2);
    click(&mut h, "Plan");
    run_until(&mut h, "the create plan", |a| {
        secrets_flow(a).plan().is_some()
    });
    apply_reviewed(&mut h, secrets_flow);
    run_until(&mut h, "apitoken in the snapshot", |a| {
        secret_names(a) == ["apitoken"]
    });

    lab.create_service("uses", &["--secret", "apitoken"], &["sleep", "3600"]);
    wait_secret_read(&lab, "first-Zq81-value");
    click(&mut h, "Rotate…");
    {
        let form = &mut h.state_mut().state.panels.secrets;
        assert!(
            form.rotate && form.name == "apitoken",
            "Rotate… fills the form"
        );
        form.typed = "second-Zq81-value".into();
    }
    h.run_steps(2);
    click(&mut h, "Plan");
    run_until(&mut h, "the rotation plan", |a| {
        secrets_flow(a).plan().is_some()
    });
    let plan = secrets_flow(h.state()).plan().unwrap().render();
    assert!(
        plan.contains("apitoken.v2") && plan.contains("uses"),
        "{plan}"
    );
    apply_reviewed(&mut h, secrets_flow);
    run_until(&mut h, "only apitoken.v2 left", |a| {
        secret_names(a) == ["apitoken.v2"]
    });
    // The service reads the new value where it read the old one.
    wait_secret_read(&lab, "second-Zq81-value");
    // The values are nowhere in the audit, as typed or as the API carried them.
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    for value in ["first-Zq81-value", "second-Zq81-value"] {
        let b64 = data_encoding::BASE64.encode(value.as_bytes());
        assert!(
            !audit.contains(value) && !audit.contains(&b64),
            "{value} in the audit"
        );
        assert!(!plan.contains(value) && !plan.contains(&b64));
    }
}
