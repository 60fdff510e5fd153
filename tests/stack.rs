//! `swarmdeck stack` against real labs and the real docker CLI: every Compose file of the
//! corpus (tests/compose/) deployed by swarmdeck on one lab and by `docker stack deploy
//! --resolve-image never` on another gives the same service specs, networks, secrets and
//! configs; each tool finds the other's stack up to date and removes it; a stack's life
//! (deploy, nothing to change, image tag changed in .env, one update); file errors.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::lab::TestLab;
use serde_json::Value;

const NS: &str = "com.docker.stack.namespace";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose")
}

/// Each corpus case: (stack name, directory).
fn corpus() -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("docker-compose.yml").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| {
            let n = d.file_name().unwrap().to_string_lossy()[..2].to_string();
            (format!("c{n}"), d)
        })
        .collect()
}

/// The real binary against `inventory`, with a private HOME and audit log.
fn swarmdeck(inventory: &Path, home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(inventory)
        .args(args)
        .env("HOME", home)
        .env("SWARMDECK_AUDIT_LOG", home.join("audit.jsonl"))
        .env_remove("SWARMDECK_LOG")
        .output()
        .expect("run swarmdeck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn swarmdeck_ok(inventory: &Path, home: &Path, args: &[&str]) -> String {
    let (ok, out, err) = swarmdeck(inventory, home, args);
    assert!(ok, "swarmdeck {args:?} failed:\n{out}\n{err}");
    out
}

/// Runs a shell line on node1 (the lab's manager).
fn sh(lab: &TestLab, line: &str) -> String {
    lab.ssh_ok("node1", &[line])
}

/// Copies a corpus case's files to `/root/stacks/<name>` on node1.
fn copy_case(lab: &TestLab, name: &str, dir: &Path) {
    let mut files = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for f in files {
        let rel = f.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let target = format!("/root/stacks/{name}/{rel}");
        let parent = Path::new(&target).parent().unwrap().display().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        lab.ssh_quiet(
            "node1",
            &format!("mkdir -p '{parent}' && cat > '{target}'"),
            &text,
        );
    }
}

/// `docker stack deploy` of a copied case, with its .env exported in the shell: its
/// output, or an error with it.
fn docker_deploy(lab: &TestLab, name: &str) -> Result<String, String> {
    let line = format!(
        "cd /root/stacks/{name} && set -a && {{ [ ! -f .env ] || . ./.env; }} && set +a && \
         docker stack deploy --resolve-image never -c docker-compose.yml {name} 2>&1"
    );
    let out = lab.ssh("node1", &[&line]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{name}: docker stack deploy failed: {text}"))
    }
}

/// Full network IDs to names.
fn network_names(lab: &TestLab) -> BTreeMap<String, String> {
    sh(
        lab,
        "docker network ls --no-trunc --format '{{.ID}} {{.Name}}'",
    )
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn inspect(lab: &TestLab, kind: &str, ids: &str) -> Vec<Value> {
    if ids.trim().is_empty() {
        return vec![];
    }
    let ids = ids.split_whitespace().collect::<Vec<_>>().join(" ");
    serde_json::from_str(&sh(lab, &format!("docker {kind} inspect {ids}"))).unwrap()
}

fn remove(v: &mut Value, pointer: &str, key: &str) {
    if let Some(o) = v.pointer_mut(pointer).and_then(Value::as_object_mut) {
        o.remove(key);
    }
}

/// A stack as the engine reports it, normalised: by name; IDs, versions, times and the
/// force-update counter dropped; network IDs as names; subnets and VXLAN IDs the engine
/// chose dropped.
fn stack_state(lab: &TestLab, name: &str, compose_text: &str) -> Value {
    let filter = format!("--filter label={NS}={name}");
    let nets = network_names(lab);
    let mut out = serde_json::Map::new();
    let ids = sh(lab, &format!("docker service ls -q {filter}"));
    for s in inspect(lab, "service", &ids) {
        let mut spec = s["Spec"].clone();
        remove(&mut spec, "/TaskTemplate", "ForceUpdate");
        for list in ["Secrets", "Configs"] {
            if let Some(items) = spec
                .pointer_mut(&format!("/TaskTemplate/ContainerSpec/{list}"))
                .and_then(Value::as_array_mut)
            {
                for i in items {
                    remove(i, "", "SecretID");
                    remove(i, "", "ConfigID");
                }
            }
        }
        if let Some(items) = spec
            .pointer_mut("/TaskTemplate/Networks")
            .and_then(Value::as_array_mut)
        {
            for n in items {
                let id = n["Target"].as_str().unwrap_or("").to_string();
                n["Target"] = Value::String(nets.get(&id).cloned().unwrap_or(id));
            }
        }
        out.insert(format!("service {}", spec["Name"].as_str().unwrap()), spec);
    }
    let ids = sh(lab, &format!("docker network ls -q {filter}"));
    for mut n in inspect(lab, "network", &ids) {
        let subnets: Vec<Value> = n["IPAM"]["Config"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c["Subnet"].as_str().map(str::to_string))
            .filter(|s| compose_text.contains(s.as_str()))
            .map(Value::String)
            .collect();
        // The VXLAN ID is the engine's choice, like a subnet nobody asked for.
        remove(
            &mut n,
            "/Options",
            "com.docker.network.driver.overlay.vxlanid_list",
        );
        let kept = serde_json::json!({
            "Driver": n["Driver"], "Scope": n["Scope"], "Internal": n["Internal"],
            "Attachable": n["Attachable"], "Ingress": n["Ingress"], "Labels": n["Labels"],
            "Options": n["Options"].take(), "IPAMDriver": n["IPAM"]["Driver"], "Subnets": subnets,
        });
        out.insert(format!("network {}", n["Name"].as_str().unwrap()), kept);
    }
    for kind in ["secret", "config"] {
        let ids = sh(lab, &format!("docker {kind} ls -q {filter}"));
        for s in inspect(lab, kind, &ids) {
            out.insert(
                format!("{kind} {}", s["Spec"]["Name"].as_str().unwrap()),
                s["Spec"].clone(),
            );
        }
    }
    Value::Object(out)
}

/// Paths where two values differ, with both sides.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{path}/{k}");
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &p,
                    out,
                );
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: swarmdeck {a} | docker {b}")),
    }
}

/// Polls until no object of the stack is left on the lab, running `again` between polls
/// (docker's `stack rm` does not wait for tasks before removing networks).
fn wait_gone(lab: &TestLab, name: &str, again: impl Fn()) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let filter = format!("--filter label={NS}={name}");
    loop {
        let left = sh(
            lab,
            &format!(
                "docker service ls -q {filter}; docker network ls -q {filter}; \
                 docker secret ls -q {filter}; docker config ls -q {filter}"
            ),
        );
        if left.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{name}: left behind: {left}"));
        }
        std::thread::sleep(Duration::from_secs(2));
        again();
    }
}

#[test]
fn corpus_deploys_as_docker_does_and_each_tool_updates_and_removes_the_others_stacks() {
    let (Some(a), Some(b)) = (TestLab::start(1), TestLab::start(1)) else {
        return;
    };
    a.form_swarm(|_| {});
    b.form_swarm(|_| {});
    let home = tempfile::tempdir().unwrap();
    let cases = corpus();
    assert!(cases.len() >= 10, "the corpus has {} files", cases.len());

    let mut warnings = BTreeMap::new();
    let mut docker_failed = Vec::new();
    for (name, dir) in &cases {
        let file = dir.join("docker-compose.yml");
        let (ok, out, err) = swarmdeck(
            &a.inventory,
            home.path(),
            &[
                "stack",
                "deploy",
                "-c",
                file.to_str().unwrap(),
                name,
                "--yes",
            ],
        );
        assert!(ok, "swarmdeck stack deploy {name} failed:\n{out}\n{err}");
        warnings.insert(name.clone(), err);
        copy_case(&b, name, dir);
        if let Err(e) = docker_deploy(&b, name) {
            docker_failed.push(e);
        }
    }
    assert!(docker_failed.is_empty(), "{}", docker_failed.join("\n"));

    // Ignored keys are named as warnings.
    let w = &warnings["c11"];
    for key in ["`build`", "`container_name`", "`depends_on`", "`restart`"] {
        assert!(w.contains(key), "no warning for {key}: {w}");
    }

    let mut report = Vec::new();
    for (name, dir) in &cases {
        let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
        let ours = stack_state(&a, name, &text);
        let theirs = stack_state(&b, name, &text);
        assert!(
            ours.as_object().is_some_and(|o| !o.is_empty()),
            "{name}: nothing deployed by swarmdeck"
        );
        let mut diffs = Vec::new();
        differences(&ours, &theirs, "", &mut diffs);
        if !diffs.is_empty() {
            report.push(format!("{}:\n  {}", dir.display(), diffs.join("\n  ")));
        }
    }
    assert!(
        report.is_empty(),
        "{} of {} files differ from docker stack deploy:\n{}",
        report.len(),
        cases.len(),
        report.join("\n")
    );

    // The same file again: nothing to change, on swarmdeck's own stacks and on docker's.
    let mut not_same = Vec::new();
    for (name, dir) in &cases {
        let file = dir.join("docker-compose.yml");
        for (lab, by) in [(&a, "swarmdeck"), (&b, "docker")] {
            let out = swarmdeck_ok(
                &lab.inventory,
                home.path(),
                &["stack", "deploy", "-c", file.to_str().unwrap(), name],
            );
            if !out.contains("nothing to change") {
                not_same.push(format!("{name} deployed by {by}:\n{out}"));
            }
        }
    }
    assert!(not_same.is_empty(), "{}", not_same.join("\n"));

    let ls = swarmdeck_ok(&b.inventory, home.path(), &["stack", "ls", "--json"]);
    let ls: Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(ls.as_array().unwrap().len(), cases.len(), "{ls}");

    // Each tool removes the other's stacks, leaving nothing behind.
    for (name, _) in &cases {
        swarmdeck_ok(&b.inventory, home.path(), &["stack", "rm", name, "--yes"]);
        let rm = || {
            let _ = a.ssh("node1", &[&format!("docker stack rm {name}")]);
        };
        rm();
        wait_gone(&b, name, || {}).unwrap();
        wait_gone(&a, name, rm).unwrap();
    }
    let audit = std::fs::read_to_string(home.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("docker secret create"), "{audit}");
    assert!(!audit.contains("not-a-real-password"));
}

const LIFE: &str = r#"services:
  web:
    image: "swarmdeck/probe:${WEB_TAG:?need WEB_TAG}"
    command: ["httpd", "-f", "-p", "80"]
    networks: [mesh]
    secrets: [token]
    configs: [{source: site, target: /etc/site.conf}]
    deploy:
      replicas: 2
  worker:
    image: swarmdeck/probe:1
    command: ["sleep", "3600"]
    networks: [mesh]
    secrets: [token]
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
  cache:
    image: swarmdeck/probe:1
    command: ["sleep", "3600"]
    networks: [mesh]
networks:
  mesh:
    driver: overlay
secrets:
  token:
    file: ./token.txt
configs:
  site:
    file: ./site.conf
"#;

/// The plan has exactly one step: an update of `service` naming `field` among its changes.
fn assert_one_update(plan: &str, service: &str, field: &str) {
    let steps: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with(" 1.") || l.starts_with(" 2."))
        .collect();
    assert_eq!(steps.len(), 1, "exactly one step:\n{plan}");
    assert!(
        steps[0].contains(&format!("update service {service}")) && steps[0].contains(field),
        "{plan}"
    );
}

#[test]
fn stack_life_nothing_to_change_then_one_image_update_from_dotenv_then_prune() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    lab.form_swarm(|_| {});
    sh(&lab, "docker tag swarmdeck/probe:1 swarmdeck/probe:2");
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, LIFE).unwrap();
    std::fs::write(dir.path().join("token.txt"), "life-token-value-xyz").unwrap();
    std::fs::write(dir.path().join("site.conf"), "site=1\n").unwrap();
    std::fs::write(dir.path().join(".env"), "WEB_TAG=1\n").unwrap();
    let f = file.to_str().unwrap();
    let deploy = |extra: &[&str]| {
        let mut args = vec!["stack", "deploy", "-c", f, "life"];
        args.extend_from_slice(extra);
        swarmdeck_ok(&lab.inventory, home.path(), &args)
    };

    let plan = deploy(&[]);
    assert!(plan.contains("not applied"), "{plan}");
    assert_eq!(
        sh(
            &lab,
            "docker service ls -q --filter label=com.docker.stack.namespace=life"
        ),
        "",
        "nothing may change before confirmation"
    );
    // Applied with every crate's tracing on: the secret's data is in no output.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdeck"))
        .arg("--inventory")
        .arg(&lab.inventory)
        .args(["stack", "deploy", "-c", f, "life", "--yes"])
        .env("HOME", home.path())
        .env("SWARMDECK_AUDIT_LOG", home.path().join("audit.jsonl"))
        .env("SWARMDECK_LOG", "trace")
        .output()
        .unwrap();
    let (applied, traced) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{applied}{traced}");
    assert!(applied.contains("6 step(s) applied"), "{applied}");
    assert!(traced.contains("DEBUG"), "debug logging was on:\n{traced}");
    let b64 = data_encoding::BASE64.encode(b"life-token-value-xyz");
    for text in [&applied, &traced] {
        assert!(!text.contains("life-token-value-xyz") && !text.contains(&b64));
    }
    assert!(deploy(&[]).contains("nothing to change"));

    std::fs::write(dir.path().join(".env"), "WEB_TAG=2\n").unwrap();
    let plan = deploy(&[]);
    assert_one_update(&plan, "life_web", "TaskTemplate.ContainerSpec.Image");
    assert!(
        plan.contains(
            "docker service update --detach --no-resolve-image --image swarmdeck/probe:2"
        ),
        "{plan}"
    );
    // The deploy follows the update's rollout slot by slot until it completes.
    let rolled = deploy(&["--yes"]);
    assert!(rolled.contains("following the rollout"), "{rolled}");
    for slot in ["slot 1:", "slot 2:"] {
        assert!(
            rolled.lines().any(|l| l.contains(slot)
                && l.contains("swarmdeck/probe:1")
                && l.contains("→ swarmdeck/probe:2 running on node1")),
            "{slot} old → new not shown:\n{rolled}"
        );
    }
    assert!(
        rolled.contains("life_web: 2/2 updated (completed)"),
        "{rolled}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = sh(
            &lab,
            "docker service ps life_web --filter desired-state=running --format '{{.Image}} {{.CurrentState}}'",
        );
        let lines: Vec<&str> = running.lines().collect();
        if lines.len() == 2
            && lines
                .iter()
                .all(|l| l.starts_with("swarmdeck/probe:2 Running"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web does not run the new image: {running}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(deploy(&[]).contains("nothing to change"));

    // A service the file no longer has stays, unless --prune.
    let (without_cache, _) = LIFE.split_once("  cache:").unwrap();
    let rest = LIFE.split_once("networks:\n  mesh:").unwrap().1;
    std::fs::write(&file, format!("{without_cache}networks:\n  mesh:{rest}")).unwrap();
    assert!(deploy(&[]).contains("nothing to change"));
    let plan = deploy(&["--prune"]);
    assert!(
        plan.contains(" 1. [node1] remove service life_cache") && !plan.contains(" 2."),
        "{plan}"
    );
    deploy(&["--prune", "--yes"]);
    assert_eq!(
        sh(&lab, "docker service ls -q --filter name=life_cache"),
        ""
    );

    // A change to a health check alone is planned: it is read back from the engine.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("interval: 30s", "interval: 40s")).unwrap();
    let plan = deploy(&[]);
    assert_one_update(&plan, "life_worker", "HealthCheck.Interval");
    deploy(&["--yes"]);
    assert!(deploy(&[]).contains("nothing to change"));
    assert_eq!(
        sh(
            &lab,
            "docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Healthcheck.Interval}}' life_worker"
        ),
        "40s"
    );

    // A rollback restores the image the stack ran before, followed the same way.
    let back = swarmdeck_ok(
        &lab.inventory,
        home.path(),
        &["service", "rollback", "life_web", "--yes"],
    );
    assert!(back.contains("life_web: 2/2 updated (completed)"), "{back}");
    assert_eq!(
        sh(
            &lab,
            "docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' life_web"
        ),
        "swarmdeck/probe:1"
    );

    let audit = std::fs::read_to_string(home.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("docker service update"), "{audit}");
    assert!(audit.contains("docker service rm life_cache"), "{audit}");
    assert!(
        audit.contains("docker service rollback life_web"),
        "{audit}"
    );
    assert!(!audit.contains("life-token-value-xyz"));
}

/// The binary with an inventory that does not exist: file errors come before any host.
fn offline(args: &[&str]) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    swarmdeck(&home.path().join("none.toml"), home.path(), args)
}

#[test]
fn file_errors_name_file_and_line_and_required_variables_their_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "services:\n  web:\n    image: x\n    ports: [\"80\"\n",
    )
    .unwrap();
    let (ok, _, err) = offline(&["stack", "deploy", "-c", bad.to_str().unwrap(), "s"]);
    assert!(!ok);
    let at = format!("{}:", bad.display());
    assert!(err.contains(&at) && err.contains("Fix:"), "{err}");
    let line: usize = err[err.find(&at).unwrap() + at.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no line number: {err}"));
    assert!((4..=5).contains(&line), "{err}");

    let typo = dir.path().join("typo.yml");
    std::fs::write(&typo, "services:\n  web:\n    image: x\n    replica: 2\n").unwrap();
    let (ok, _, err) = offline(&["stack", "deploy", "-c", typo.to_str().unwrap(), "s"]);
    assert!(
        !ok && err.contains(&format!("{}:4", typo.display())),
        "{err}"
    );

    let need = dir.path().join("need.yml");
    std::fs::write(&need, "services:\n  web:\n    image: \"x:${X:?need X}\"\n").unwrap();
    let (ok, _, err) = offline(&["stack", "deploy", "-c", need.to_str().unwrap(), "s"]);
    assert!(
        !ok && err.contains("need X") && err.contains("need.yml:3"),
        "{err}"
    );

    // Set in an --env-file, it passes the file stage (and then needs hosts).
    let env = dir.path().join("vars.env");
    std::fs::write(&env, "X=1\n").unwrap();
    let (_, _, err) = offline(&[
        "stack",
        "deploy",
        "-c",
        need.to_str().unwrap(),
        "--env-file",
        env.to_str().unwrap(),
        "s",
    ]);
    assert!(!err.contains("need X"), "{err}");
}
