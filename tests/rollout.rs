//! Rollouts through the real CLI against a real 3-host lab swarm: an image update planned,
//! applied and followed slot by slot, rolled back, a scale, Ctrl-C while following, the
//! app's service following a rollout, a plan made stale by someone
//! else's change, and an update to an image no node has, which swarm pauses. The images
//! are the lab's preloaded probe image and a second tag of it made on every host (no
//! registry is reachable).

mod common;

use std::time::{Duration, Instant};

use common::lab::TestLab;
use swarmdeck::outcome::FailureKind;
use swarmdeck::swarm::change::Change;
use swarmdeck::swarm::service::{ServiceChange, ServiceEdit, SpecUpdate};

const V1: &str = "swarmdeck/probe:1";
const V2: &str = "swarmdeck/probe:2";

fn swarmdeck(lab: &TestLab, home: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    common::swarmdeck_cli(lab, home, args)
}

/// Runs a `--json` change that must succeed; returns its one final state and the
/// progress lines.
fn applied(lab: &TestLab, home: &std::path::Path, args: &[&str]) -> (serde_json::Value, String) {
    let (ok, out, err) = swarmdeck(lab, home, args);
    assert!(ok, "swarmdeck {args:?} failed:\n{out}\n{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    (v[0].clone(), err)
}

fn spec_image(lab: &TestLab) -> String {
    inspect(lab, "{{.Spec.TaskTemplate.ContainerSpec.Image}}")
}

/// `docker service ls`'s replicas column for `web`, once it reads `want` (polled).
fn replicas_become(lab: &TestLab, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = lab.ssh_ok(
            "node1",
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                "name=web",
                "--format",
                "{{.Replicas}}",
            ],
        );
        if got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `docker service inspect --format FORMAT web` on the manager.
fn inspect(lab: &TestLab, format: &str) -> String {
    lab.ssh_ok(
        "node1",
        &["docker", "service", "inspect", "--format", format, "web"],
    )
}

/// Swarm's word for web's last update ("updating", "paused", "completed", …).
fn update_state(lab: &TestLab) -> String {
    inspect(lab, "{{.UpdateStatus.State}}")
}

/// Waits until swarm says web's update completed.
fn wait_update_completed(lab: &TestLab) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while update_state(lab) != "completed" {
        assert!(Instant::now() < deadline, "web's update did not complete");
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Every slot of a completed update went from `from` to `to`, on a node.
fn assert_every_slot(end: &serde_json::Value, from: &str, to: &str, n: usize) {
    assert_eq!(end["phase"], "completed", "{end:#}");
    assert_eq!(
        (end["updated"].as_u64(), end["total"].as_u64()),
        (Some(n as u64), Some(n as u64))
    );
    let slots = end["slots"].as_array().unwrap();
    assert_eq!(slots.len(), n, "{end:#}");
    for s in slots {
        assert_eq!(s["old"]["image"], from, "{s:#}");
        assert_eq!(s["new"]["image"], to, "{s:#}");
        assert_eq!(s["new"]["state"], "running", "{s:#}");
        assert!(
            s["new"]["node"].as_str().unwrap().starts_with("node"),
            "{s:#}"
        );
        assert_eq!(s["updated"], true, "{s:#}");
    }
}

/// The app's service applies a confirmed plan and follows its rollout: the progress
/// updates its panel receives, the last one when the job ends.
fn apply_in_app(lab: &TestLab, plan: swarmdeck::swarm::Plan) -> Vec<serde_json::Value> {
    use swarmdeck::service::{Command, Event, Job, JobId, JobUpdate, ServiceHandle};
    let mut svc = ServiceHandle::spawn(std::sync::Arc::new(|| {})).expect("service starts");
    svc.send(Command::Refresh {
        inventory: lab.inventory.clone(),
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut started = false;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match svc.try_recv() {
            Some(Event::Snapshot(_)) if !started => {
                started = true;
                let what = "update web".to_string();
                let job = Job::Apply {
                    plan: plan.clone(),
                    what,
                };
                svc.send(Command::Start { id: JobId(1), job }).unwrap();
            }
            Some(Event::Job { update, .. }) => match update {
                JobUpdate::Applied(r) => assert!(r.is_ok(), "{r:?}"),
                JobUpdate::Rollout(p) => seen.push(serde_json::to_value(&*p).unwrap()),
                JobUpdate::Ended => return seen,
                _ => {}
            },
            Some(Event::Notice(n)) => eprintln!("notice: {}", n.text),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    panic!("the apply job did not end; rollout seen: {seen:#?}");
}

#[test]
fn rollouts_update_roll_back_scale_stop_watching_on_ctrl_c_refuse_stale_plans_and_report_a_pause() {
    // SAFETY: the only test of this binary, before any thread starts: the app's apply
    // job writes its audit entries here, not in the user's log.
    let app_data = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("SWARMDECK_AUDIT_LOG", app_data.path().join("audit.jsonl")) };
    let Some(lab) = TestLab::start(3) else { return };
    lab.form_swarm(|_| {});
    for h in &lab.hosts {
        lab.ssh_ok(&h.name, &["docker", "tag", V1, V2]);
    }
    // `sleep` ignores SIGTERM: a short grace period keeps each replacement quick.
    lab.create_service(
        "web",
        &["--replicas", "3", "--stop-grace-period", "1s"],
        &["sleep", "3600"],
    );
    assert_eq!(replicas_become(&lab, "3/3"), "3/3");
    let home = tempfile::tempdir().unwrap();
    let home = home.path();

    // A global service has no replica count: refused with the reason, nothing applied.
    lab.create_service("agent", &["--mode", "global"], &["sleep", "3600"]);
    let (ok, out, err) = swarmdeck(&lab, home, &["service", "scale", "agent=2", "--yes"]);
    assert!(
        !ok && err.contains("agent is a global service"),
        "{out}{err}"
    );
    assert!(!out.contains("applying"), "{out}");

    // The plan names exactly the image, with the docker command; nothing is applied.
    let (ok, plan, err) = swarmdeck(&lab, home, &["service", "update", "web", "--image", V2]);
    assert!(ok, "{plan}{err}");
    assert!(
        plan.contains(&format!("update service web (image: {V1} → {V2})")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("$ docker service update --image {V2} web")),
        "{plan}"
    );
    assert!(plan.contains("not applied"), "{plan}");
    assert_eq!(spec_image(&lab), V1);

    // Applied and followed: every slot goes old → new, by node, to completion.
    let t = Instant::now();
    let (end, lines) = applied(
        &lab,
        home,
        &[
            "service",
            "update",
            "web",
            "--image",
            V2,
            "--yes",
            "--json",
            "--wait-timeout",
            "240",
        ],
    );
    eprintln!(
        "update followed to completion in {:?}:\n{lines}",
        t.elapsed()
    );
    assert_every_slot(&end, V1, V2, 3);
    assert!(lines.contains(&format!("{V1} shutdown on node")), "{lines}");
    assert!(
        lines.contains(&format!("→ {V2} running on node")),
        "{lines}"
    );
    assert!(lines.contains("web: 3/3 updated (completed)"), "{lines}");
    assert_eq!(spec_image(&lab), V2);

    // Rollback restores the old image.
    let (end, _) = applied(
        &lab,
        home,
        &[
            "service",
            "rollback",
            "web",
            "--yes",
            "--json",
            "--wait-timeout",
            "240",
        ],
    );
    assert_every_slot(&end, V2, V1, 3);
    assert_eq!(spec_image(&lab), V1);

    // The same again is nothing to change.
    let (ok, out, err) = swarmdeck(
        &lab,
        home,
        &["service", "update", "web", "--image", V1, "--yes"],
    );
    assert!(ok && out.contains("nothing to change"), "{out}{err}");

    // Scale.
    let (end, _) = applied(
        &lab,
        home,
        &[
            "service",
            "scale",
            "web=5",
            "--yes",
            "--json",
            "--wait-timeout",
            "240",
        ],
    );
    assert_eq!(
        (end["updated"].as_u64(), end["total"].as_u64()),
        (Some(5), Some(5)),
        "{end:#}"
    );
    assert_eq!(replicas_become(&lab, "5/5"), "5/5");

    // Ctrl-C while following stops waiting and leaves the service's rollout going.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(["service", "update", "web", "--force", "--yes"])
        .env("HOME", home)
        .env_remove("SWARMDECK_AUDIT_LOG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    while !text.contains("following the rollout") {
        use std::io::BufRead;
        let n = stdout.read_line(&mut text).unwrap();
        assert!(n > 0, "the CLI ended before following:\n{text}");
    }
    // The Ctrl-C listener is set before that line; give it a moment to be polled.
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{text}");
    let state = update_state(&lab);
    assert!(state == "updating" || state == "completed", "{state}");
    wait_update_completed(&lab);

    // The app: the same engine plan, applied by the service thread, followed to the end.
    let tmp = tempfile::tempdir().unwrap();
    let cluster = lab.cluster(&tmp.path().join("kh"));
    let rt = common::rt();
    let to_v2 = Change::Service(ServiceChange {
        service: "web".into(),
        edit: ServiceEdit::Update(SpecUpdate {
            image: Some(V2.into()),
            ..Default::default()
        }),
    });
    let plan = rt
        .block_on(swarmdeck::swarm::change::plan(&cluster, &to_v2, false))
        .expect("plan");
    let seen = apply_in_app(&lab, plan);
    assert!(seen.len() >= 2, "progress comes as it goes: {seen:#?}");
    assert_every_slot(seen.last().unwrap(), V1, V2, 5);
    assert_eq!(spec_image(&lab), V2);

    // A plan made before someone else changed the service is refused, typed as stale.
    let change = Change::Service(ServiceChange {
        service: "web".into(),
        edit: ServiceEdit::Update(SpecUpdate {
            env_add: vec![("MODE".into(), "a".into())],
            ..Default::default()
        }),
    });
    let plan = rt
        .block_on(swarmdeck::swarm::change::plan(&cluster, &change, false))
        .expect("plan");
    assert_eq!(plan.steps.len(), 1, "{}", plan.render());
    lab.ssh_ok(
        "node1",
        &[
            "docker",
            "service",
            "update",
            "--detach",
            "--label-add",
            "owner=ops",
            "web",
        ],
    );
    let audit = swarmdeck::swarm::AuditLog::new(tmp.path().join("audit.jsonl"));
    let cancel = tokio_util::sync::CancellationToken::new();
    let err = rt
        .block_on(swarmdeck::swarm::ops::apply(
            &cluster,
            &plan,
            &audit,
            &|_, _| {},
            &cancel,
        ))
        .expect_err("a stale plan must not apply");
    let failure = err.failure();
    assert_eq!(failure.kind, FailureKind::Stale, "{failure:?}");
    assert!(
        failure.message.contains("plan again"),
        "{}",
        failure.message
    );
    let env = inspect(&lab, "{{.Spec.TaskTemplate.ContainerSpec.Env}}");
    assert!(
        !env.contains("MODE"),
        "the stale plan changed the service: {env}"
    );

    // --detach applies and returns with the rollout's state as it stands.
    let (end, _) = applied(
        &lab,
        home,
        &[
            "service",
            "update",
            "web",
            "--env-add",
            "MODE=b",
            "--yes",
            "--detach",
            "--json",
        ],
    );
    assert_eq!(end["service"], "web", "{end:#}");
    assert_eq!(end["total"], 5, "{end:#}");
    wait_update_completed(&lab);

    // An image no node has: tasks are rejected and swarm pauses the update (its default
    // failure action); the CLI says so and why, and exits non-zero.
    let t = Instant::now();
    let (ok, out, err) = swarmdeck(
        &lab,
        home,
        &[
            "service",
            "update",
            "web",
            "--image",
            "swarmdeck/probe:nope",
            "--yes",
            "--wait-timeout",
            "240",
        ],
    );
    eprintln!("paused update reported in {:?}:\n{out}\n{err}", t.elapsed());
    assert!(!ok, "a paused rollout must fail the command:\n{out}\n{err}");
    assert!(err.contains("the rollout is paused"), "{out}\n{err}");
    assert!(err.contains("No such image"), "{out}\n{err}");
    assert!(out.contains("PAUSED"), "{out}");
    let state = update_state(&lab);
    assert_eq!(state, "paused");

    // The audit log replays the docker commands of what was applied.
    let (ok, script, err) = swarmdeck(&lab, home, &["audit", "export"]);
    assert!(ok, "{err}");
    for cmd in [
        format!("docker service update --image {V2} web"),
        "docker service rollback web".to_string(),
        "docker service scale web=5".to_string(),
    ] {
        assert!(script.contains(&cmd), "{cmd} missing from:\n{script}");
    }
    lab.down().unwrap();
}
