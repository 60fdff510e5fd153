//! The connection layer against real hosts: a practice lab (network namespaces with a
//! real sshd and dockerd), reached over its workstation veth. No mocks.

mod common;

use common::lab::{OpsAccess, add_ops_user, inventory};
use common::{kill_and_wait, rt};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::ListNetworksOptions;
use common::lab::TestLab;
use futures_util::future::join_all;
use swarmdeck::docker::{DockerError, DockerHost, DockerOptions, Via};
use swarmdeck::inventory::{AuthMethod, HostSpec};
use swarmdeck::ssh::known_hosts::{self, KnownHosts};
use swarmdeck::ssh::{
    HostKeyPolicy, NoSecrets, RemoteCommand, Secret, SecretRequest, SshError, SshOptions, SshPool,
    SshSession,
};

/// Options that read only the given known_hosts files and write `app` (never the
/// user's real files).
fn opts(files: Vec<PathBuf>, app: &Path, policy: HostKeyPolicy) -> SshOptions {
    SshOptions {
        host_key_policy: policy,
        known_hosts: KnownHosts::with_files(files, app.to_path_buf()),
        deadlines: swarmdeck::limits::Deadlines {
            connect: Duration::from_secs(5),
            login: Duration::from_secs(20),
            ..Default::default()
        },
        ..SshOptions::default()
    }
}

fn host_key(lab: &TestLab, i: usize) -> russh::keys::PublicKey {
    let text = std::fs::read_to_string(lab.hosts[i].dir.join("ssh_host_ed25519_key.pub")).unwrap();
    russh::keys::PublicKey::from_openssh(text.trim()).unwrap()
}

fn other_ed25519_key(dir: &Path) -> String {
    new_key(dir, "other_host_key", "ed25519")
}

/// A fresh key pair of `kind` at `dir/name`; returns the public line.
fn new_key(dir: &Path, name: &str, kind: &str) -> String {
    let p = dir.join(name);
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-f"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::read_to_string(p.with_extension("pub")).unwrap()
}

/// `known_as KEYTYPE BASE64` from a public key line (its comment dropped).
fn known_line(known_as: &str, public: &str) -> String {
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    format!("{known_as} {}\n", key.join(" "))
}

#[test]
fn docker_api_over_one_ssh_session_per_host() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let o = lab.ssh_options(&tmp.path().join("app_kh"));
        let pool = SshPool::new(o, Arc::new(NoSecrets));
        let t0 = Instant::now();
        let results = pool.connect_all(&inv.hosts).await;
        eprintln!("connected to {} hosts in {:?}", results.len(), t0.elapsed());
        assert_eq!(results.len(), 3);
        let mut sessions = Vec::new();
        for (name, r) in results {
            let s = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.host_key_fingerprint().starts_with("SHA256:"));
            sessions.push(s);
        }
        // Reuse: asking again gives the same connection.
        let again = pool.session(&inv.hosts[0]).await.unwrap();
        assert!(again.same_connection(&sessions[0]));
        assert!(pool.cached("node2").unwrap().same_connection(&sessions[1]));

        for (i, s) in sessions.iter().enumerate() {
            let t = Instant::now();
            let link = DockerHost::connect_with(s, &DockerOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            eprintln!(
                "{}: docker via {} API {}.{} engine {:?} in {:?}",
                s.name(),
                link.via,
                link.api_version.major_version,
                link.api_version.minor_version,
                link.engine_version,
                t.elapsed()
            );
            assert!(matches!(link.via, Via::Socket(_)));
            let d = &link.docker;
            let info = d.info().await.unwrap();
            assert_eq!(info.name.as_deref(), Some(inv.hosts[i].name.as_str()));
            let nets = d.list_networks(None::<ListNetworksOptions>).await.unwrap();
            assert!(
                nets.iter().any(|n| n.name.as_deref() == Some("bridge")),
                "{nets:?}"
            );
            let v = d.version().await.unwrap();
            let server_api = v.api_version.clone().unwrap();
            assert_eq!(
                format!(
                    "{}.{}",
                    link.api_version.major_version, link.api_version.minor_version
                ),
                server_api,
                "negotiated the engine's own API version (not newer)"
            );
        }

        // Many concurrent requests over one SSH session, each on its own channel.
        let docker = DockerHost::connect(&sessions[0]).await.unwrap();
        let t = Instant::now();
        let calls = (0..40).map(|i| {
            let d = docker.clone();
            async move {
                if i % 2 == 0 {
                    d.info().await.map(|_| ())
                } else {
                    d.list_networks(None::<ListNetworksOptions>)
                        .await
                        .map(|_| ())
                }
            }
        });
        let res = join_all(calls).await;
        eprintln!(
            "40 concurrent API calls over one session: {:?}",
            t.elapsed()
        );
        for r in res {
            r.unwrap();
        }
        assert!(!sessions[0].is_closed());

        // Fallback transport, forced: docker system dial-stdio on exec channels.
        let link = DockerHost::connect_with(
            &sessions[1],
            &DockerOptions {
                force_dial_stdio: true,
                ..DockerOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.via, Via::DialStdio { sudo: false });
        let res = join_all((0..12).map(|_| link.docker.info())).await;
        for r in res {
            assert_eq!(r.unwrap().name.as_deref(), Some("node2"));
        }

        // Exec on the same sessions.
        let s = &sessions[2];
        let out = s.exec(&RemoteCommand::new(["hostname"])).await.unwrap();
        assert!(out.success());
        assert_eq!(out.stdout_lossy().trim(), "node3");
        let hostile = "it's $(touch /tmp/swarmdeck-pwned) ; `id` \"q\" \n*";
        let out = s
            .exec(&RemoteCommand::new(["printf", "%s", hostile]))
            .await
            .unwrap();
        assert_eq!(out.stdout_lossy(), hostile);
        let out = s
            .exec(&RemoteCommand::shell("echo oops >&2; exit 3"))
            .await
            .unwrap();
        assert_eq!(out.status, 3);
        assert_eq!(out.stderr_lossy().trim(), "oops");
        let out = s
            .exec(&RemoteCommand::new(["cat"]).stdin(b"from stdin".to_vec()))
            .await
            .unwrap();
        assert_eq!(out.stdout_lossy(), "from stdin");
        let e = s
            .exec(&RemoteCommand::new(["sleep", "20"]).timeout(Duration::from_millis(500)))
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("node3"), "{e}");
        // The session survives a timed-out command.
        let out = s.exec(&RemoteCommand::new(["true"])).await.unwrap();
        assert!(out.success());

        // Parallel exec channels on one session.
        let res = join_all((0..8).map(|i| {
            let s = s.clone();
            async move { s.exec(&RemoteCommand::new(["echo", &i.to_string()])).await }
        }))
        .await;
        for (i, r) in res.into_iter().enumerate() {
            assert_eq!(r.unwrap().stdout_lossy().trim(), i.to_string());
        }

        pool.close_all().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sessions[0].is_closed());
        let e = sessions[0]
            .exec(&RemoteCommand::new(["true"]))
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::Disconnected { .. }), "{e}");
    });
}

#[test]
fn host_key_policies_and_auth_failures() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let host = inv.hosts[0].clone();
    let real = host_key(&lab, 0);
    let real_fp = known_hosts::fingerprint(&real);
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        // Strict, nothing known: refused with the real fingerprint.
        let app = tmp.path().join("app1");
        let e = SshSession::connect(
            &host,
            &opts(vec![], &app, HostKeyPolicy::Strict),
            &NoSecrets,
        )
        .await
        .unwrap_err();
        match &e {
            SshError::HostKeyUnknown { fingerprint, .. } => assert_eq!(*fingerprint, real_fp),
            other => panic!("expected HostKeyUnknown, got {other}"),
        }
        assert!(
            e.to_string().contains(&real_fp) && e.to_string().contains("node1"),
            "{e}"
        );
        assert!(!app.exists(), "strict never writes");

        match &e {
            SshError::HostKeyUnknown { known_as, .. } => assert_eq!(*known_as, host.address),
            other => panic!("expected HostKeyUnknown, got {other}"),
        }

        // Consent for a different fingerprint, or for this fingerprint on another host,
        // does not trust this key.
        for (known_as, fingerprint) in [
            (host.address.clone(), "SHA256:not-this-one".to_string()),
            ("10.213.254.254".to_string(), real_fp.clone()),
            (format!("[{}]:2222", host.address), real_fp.clone()),
        ] {
            let trust = HostKeyPolicy::TrustFingerprint {
                known_as,
                fingerprint,
            };
            let e = SshSession::connect(&host, &opts(vec![], &app, trust), &NoSecrets)
                .await
                .unwrap_err();
            assert!(matches!(e, SshError::HostKeyUnknown { .. }), "{e}");
            assert!(!app.exists(), "refused consent never writes");
        }

        // Consent for the right one: recorded, then trusted under Strict.
        SshSession::connect(
            &host,
            &opts(
                vec![],
                &app,
                HostKeyPolicy::TrustFingerprint {
                    known_as: host.address.clone(),
                    fingerprint: real_fp.clone(),
                },
            ),
            &NoSecrets,
        )
        .await
        .unwrap();
        SshSession::connect(
            &host,
            &opts(vec![], &app, HostKeyPolicy::Strict),
            &NoSecrets,
        )
        .await
        .unwrap();

        // accept-new records the key in the app file (mode 0600), then it's trusted.
        let app2 = tmp.path().join("cfg/known_hosts");
        let s = SshSession::connect(
            &host,
            &opts(vec![], &app2, HostKeyPolicy::AcceptNew),
            &NoSecrets,
        )
        .await
        .unwrap();
        assert_eq!(s.host_key_fingerprint(), real_fp);
        let text = std::fs::read_to_string(&app2).unwrap();
        assert!(
            text.starts_with(&format!("{} ssh-ed25519 ", host.address)),
            "{text}"
        );
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&app2).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let kh = KnownHosts::with_files(vec![], app2.clone());
        assert_eq!(
            kh.check(&host.address, 22, &real).unwrap(),
            known_hosts::Verdict::Trusted
        );

        // Changed: another key of the same type listed for the host; even accept-new refuses.
        let changed = tmp.path().join("changed_kh");
        let other = other_ed25519_key(tmp.path());
        std::fs::write(
            &changed,
            format!("# first line\n{} {}", host.address, other.trim()),
        )
        .unwrap();
        let app3 = tmp.path().join("app3");
        let e = SshSession::connect(
            &host,
            &opts(vec![changed.clone()], &app3, HostKeyPolicy::AcceptNew),
            &NoSecrets,
        )
        .await
        .unwrap_err();
        match &e {
            SshError::HostKeyChanged {
                file,
                line,
                fingerprint,
                ..
            } => {
                assert_eq!(file, &changed);
                assert_eq!(*line, 2);
                assert_eq!(*fingerprint, real_fp);
            }
            other => panic!("expected HostKeyChanged, got {other}"),
        }
        let msg = e.to_string();
        assert!(msg.contains(&format!("{}:2", changed.display())), "{msg}");
        assert!(!app3.exists(), "a changed key is never recorded");

        // Revoked.
        let revoked = tmp.path().join("revoked_kh");
        let lab_line = std::fs::read_to_string(&lab.known_hosts).unwrap();
        let key_part: Vec<&str> = lab_line
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        std::fs::write(
            &revoked,
            format!("@revoked * {} {}\n", key_part[1], key_part[2]),
        )
        .unwrap();
        let e = SshSession::connect(
            &host,
            &opts(
                vec![lab.known_hosts.clone(), revoked.clone()],
                &app3,
                HostKeyPolicy::AcceptNew,
            ),
            &NoSecrets,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, SshError::HostKeyRevoked { line: 1, .. }), "{e}");

        // An inventory-named known_hosts file others may write is not trusted (StrictModes).
        let shared = tmp.path().join("shared_kh");
        std::fs::copy(&lab.known_hosts, &shared).unwrap();
        let set_mode = |m: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(m)).unwrap();
        };
        set_mode(0o666);
        let app4 = tmp.path().join("app4");
        let shared_opts = opts(vec![shared.clone()], &app4, HostKeyPolicy::AcceptNew);
        let e = SshSession::connect(&host, &shared_opts, &NoSecrets)
            .await
            .unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, SshError::KnownHosts { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("node1")
                && msg.contains(&shared.display().to_string())
                && msg.contains(&format!("chmod go-w {}", shared.display())),
            "{msg}"
        );
        assert!(
            !app4.exists(),
            "nothing recorded from an untrusted file's verdict"
        );
        set_mode(0o644);
        SshSession::connect(&host, &shared_opts, &NoSecrets)
            .await
            .unwrap();
        assert!(
            !app4.exists(),
            "trusted through the file, nothing new to record"
        );

        // From here on trust the lab's known_hosts.
        let good = lab.ssh_options(&app3);

        // Wrong key file: auth failure naming what was tried.
        let wrong = tmp.path().join("wrong_id");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&wrong)
            .status()
            .unwrap();
        assert!(st.success());
        let mut h = host.clone();
        h.auth = AuthMethod::Key {
            path: wrong.clone(),
        };
        let e = SshSession::connect(&h, &good, &NoSecrets)
            .await
            .unwrap_err();
        match &e {
            SshError::AuthFailed {
                tried,
                server_allows,
                ..
            } => {
                assert!(tried[0].contains("wrong_id"), "{tried:?}");
                assert!(
                    server_allows.iter().any(|m| m == "publickey"),
                    "{server_allows:?}"
                );
            }
            other => panic!("expected AuthFailed, got {other}"),
        }
        assert!(e.to_string().contains("authorized_keys"), "{e}");

        // Encrypted key: passphrase from the secret source (and never in errors).
        let enc = tmp.path().join("enc_id");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "s3cret pass", "-f"])
            .arg(&enc)
            .status()
            .unwrap();
        assert!(st.success());
        let pubkey = std::fs::read_to_string(enc.with_extension("pub")).unwrap();
        let ak = lab.dir.join("authorized_keys");
        let mut text = std::fs::read_to_string(&ak).unwrap();
        text.push_str(&pubkey);
        std::fs::write(&ak, text).unwrap();
        let mut h = host.clone();
        h.auth = AuthMethod::Key { path: enc.clone() };
        let e = SshSession::connect(&h, &good, &NoSecrets)
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::KeyFile { .. }), "{e}");
        let wrong_pass = |_: &SecretRequest<'_>| Some(Secret::new("guess"));
        let e = SshSession::connect(&h, &good, &wrong_pass)
            .await
            .unwrap_err();
        assert!(!e.to_string().contains("guess"), "{e}");
        let src = |r: &SecretRequest<'_>| {
            assert_eq!(r.host, "node1");
            Some(Secret::new("s3cret pass"))
        };
        let s = SshSession::connect(&h, &good, &src).await.unwrap();
        assert_eq!(
            s.exec(&RemoteCommand::new(["hostname"]))
                .await
                .unwrap()
                .stdout_lossy()
                .trim(),
            "node1"
        );

        // Agent auth against a private ssh-agent.
        let sock = tmp.path().join("agent.sock");
        let mut agent = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..50 {
            if sock.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut h = host.clone();
        h.auth = AuthMethod::Agent;
        let agent_opts = SshOptions {
            agent_socket: Some(sock.clone()),
            ..good.clone()
        };
        let e = SshSession::connect(&h, &agent_opts, &NoSecrets)
            .await
            .unwrap_err();
        assert!(
            matches!(e, SshError::AuthFailed { .. }) && e.to_string().contains("no keys"),
            "{e}"
        );
        let st = std::process::Command::new("ssh-add")
            .arg(&wrong)
            .arg(&lab.key)
            .env("SSH_AUTH_SOCK", &sock)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let r = SshSession::connect(&h, &agent_opts, &NoSecrets).await;
        let _ = agent.kill();
        let _ = agent.wait();
        let s = r.unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.is_closed());

        // Unreachable: a loopback port nothing listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let h = HostSpec {
            name: "nowhere".into(),
            address: "127.0.0.1".into(),
            port,
            ..host.clone()
        };
        let e = SshSession::connect(&h, &good, &NoSecrets)
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::Unreachable { .. }), "{e}");
        assert!(
            e.to_string().contains("nowhere") && e.to_string().contains("refused"),
            "{e}"
        );
    });
}

/// OpenSSH's rules for a host known by one key type: node1 is recorded only with an ECDSA
/// key. Its real sshd offers only its ed25519 key, exactly what an impostor without the
/// ECDSA key would do: refused as "known by another type", even with accept-new or the
/// user's consent to that very fingerprint, and nothing is recorded. A second sshd on the
/// host offering both types is asked for the known ECDSA key first, and trusted.
#[test]
fn host_known_by_ecdsa_refuses_an_ed25519_only_server_even_with_accept_new() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let host = inv.hosts[0].clone();
    let h = &lab.hosts[0];
    let ed_fp = known_hosts::fingerprint(&host_key(&lab, 0));
    // Keys the host's sshd can read: in the lab host's own folder.
    let ecdsa_pub = new_key(&h.dir, "extra_ecdsa_key", "ecdsa");
    let ecdsa_fp =
        known_hosts::fingerprint(&russh::keys::PublicKey::from_openssh(ecdsa_pub.trim()).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let kh = tmp.path().join("known_by_ecdsa");
    std::fs::write(
        &kh,
        format!(
            "# node1, by its ECDSA key only\n{}{}",
            known_line(&host.address, &ecdsa_pub),
            known_line(&format!("[{}]:2222", host.address), &ecdsa_pub),
        ),
    )
    .unwrap();
    let app = tmp.path().join("app_kh");
    rt().block_on(async {
        for policy in [
            HostKeyPolicy::Strict,
            HostKeyPolicy::AcceptNew,
            HostKeyPolicy::TrustFingerprint {
                known_as: host.address.clone(),
                fingerprint: ed_fp.clone(),
            },
        ] {
            let e = SshSession::connect(
                &host,
                &opts(vec![kh.clone()], &app, policy.clone()),
                &NoSecrets,
            )
            .await
            .unwrap_err();
            match &e {
                SshError::HostKeyOtherType {
                    key_type,
                    fingerprint,
                    known,
                    ..
                } => {
                    assert_eq!(key_type, "ssh-ed25519");
                    assert_eq!(*fingerprint, ed_fp);
                    assert_eq!(known.len(), 1, "{known:?}");
                    assert_eq!(known[0].key_type, "ecdsa-sha2-nistp256");
                    assert_eq!((&known[0].file, known[0].line), (&kh, 2));
                }
                other => panic!("{policy:?}: expected HostKeyOtherType, got {other}"),
            }
            let msg = e.to_string();
            for part in [
                "node1",
                host.address.as_str(),
                "ecdsa-sha2-nistp256",
                &format!("{}:2", kh.display()),
                "--accept-new-host-keys",
                "ssh-keyscan",
            ] {
                assert!(msg.contains(part), "{part:?} missing from: {msg}");
            }
            assert!(!app.exists(), "{policy:?}: nothing recorded");
        }
        eprintln!(
            "{}",
            SshSession::connect(
                &host,
                &opts(vec![kh.clone()], &app, HostKeyPolicy::AcceptNew),
                &NoSecrets
            )
            .await
            .unwrap_err()
        );

        // A second sshd with both keys: the known ECDSA key is negotiated, though the
        // default order would ask for ed25519 first.
        let s = SshSession::connect(&host, &lab.ssh_options(&app), &NoSecrets)
            .await
            .unwrap();
        let started = s
            .exec(&RemoteCommand::shell(format!(
                "setsid -f /usr/sbin/sshd -p 2222 -o ListenAddress={ip} -h {ed} -h {ecdsa} \
                 -o PidFile=/run/sshd-two-keys.pid -o AuthorizedKeysFile={auth} \
                 -o PermitRootLogin=prohibit-password </dev/null >/dev/null 2>&1; \
                 for i in $(seq 50); do [ -f /run/sshd-two-keys.pid ] && exit 0; sleep 0.1; done; \
                 exit 1",
                ip = h.ip,
                ed = h.dir.join("ssh_host_ed25519_key").display(),
                ecdsa = h.dir.join("extra_ecdsa_key").display(),
                auth = lab.dir.join("authorized_keys").display(),
            )))
            .await
            .unwrap();
        assert!(started.success(), "{}", started.stderr_lossy());
        let mut two = host.clone();
        two.port = 2222;
        let s2 = SshSession::connect(
            &two,
            &opts(vec![kh.clone()], &app, HostKeyPolicy::Strict),
            &NoSecrets,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s2.host_key_fingerprint(), ecdsa_fp);
        // Unknown to the files, the same server is asked for its ed25519 key (the default).
        let e = SshSession::connect(&two, &opts(vec![], &app, HostKeyPolicy::Strict), &NoSecrets)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, SshError::HostKeyUnknown { fingerprint, .. } if *fingerprint == ed_fp),
            "{e}"
        );
        s.exec(&RemoteCommand::shell("kill $(cat /run/sshd-two-keys.pid)"))
            .await
            .unwrap();
        assert!(!app.exists());
    });
}

#[test]
fn docker_daemon_down_is_reported() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    let pid = lab.hosts[0]
        .pids
        .dockerd
        .expect("lab records dockerd's pid");
    rt().block_on(async {
        let o = lab.ssh_options(&tmp.path().join("kh"));
        let s = SshSession::connect(&inv.hosts[0], &o, &NoSecrets)
            .await
            .unwrap();
        DockerHost::connect(&s).await.unwrap();
        // Stop the engine (only the pid the lab started).
        kill_and_wait(pid);
        let e = DockerHost::connect(&s).await.unwrap_err();
        assert!(matches!(e, DockerError::DaemonNotRunning { .. }), "{e}");
        assert!(e.to_string().contains("node1"), "{e}");
        eprintln!("{e}");
        // Socket gone too: the fallback path reports the same thing.
        s.exec(&RemoteCommand::new(["rm", "-f", "/run/docker.sock"]))
            .await
            .unwrap();
        let e = DockerHost::connect(&s).await.unwrap_err();
        assert!(matches!(e, DockerError::DaemonNotRunning { .. }), "{e}");
        eprintln!("{e}");
        // Wrong socket path and docker CLI hidden: "not installed".
        let e = DockerHost::connect_with(
            &s,
            &DockerOptions {
                socket_path: "/nonexistent/docker.sock".into(),
                ..DockerOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, DockerError::DaemonNotRunning { .. }),
            "the CLI is present, so the engine is reported down: {e}"
        );
        // The SSH session itself is unaffected.
        assert!(
            s.exec(&RemoteCommand::new(["true"]))
                .await
                .unwrap()
                .success()
        );
    });
}

#[test]
fn non_root_user_password_auth_and_socket_permissions() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let o = lab.ssh_options(&tmp.path().join("kh"));
        let root = SshSession::connect(&inv.hosts[0], &o, &NoSecrets)
            .await
            .unwrap();
        add_ops_user(&root, "pw-ops-1", OpsAccess::None).await;

        let mut ops = inv.hosts[0].clone();
        ops.user = "ops".into();
        ops.auth = AuthMethod::Password;

        // No password stored / wrong password.
        let e = SshSession::connect(&ops, &o, &NoSecrets).await.unwrap_err();
        assert!(matches!(e, SshError::AuthFailed { .. }), "{e}");
        let wrong = |_: &SecretRequest<'_>| Some(Secret::new("not-it"));
        let e = SshSession::connect(&ops, &o, &wrong).await.unwrap_err();
        assert!(matches!(e, SshError::AuthFailed { .. }), "{e}");
        assert!(!e.to_string().contains("not-it"), "{e}");

        let pw = |r: &SecretRequest<'_>| {
            assert_eq!(r.kind, swarmdeck::ssh::SecretKind::Password);
            assert_eq!(r.user, "ops");
            Some(Secret::new("pw-ops-1"))
        };
        let s = SshSession::connect(&ops, &o, &pw).await.unwrap();
        let out = s.exec(&RemoteCommand::new(["id", "-un"])).await.unwrap();
        assert_eq!(out.stdout_lossy().trim(), "ops");

        // Not in the docker group: the socket refuses, and the error says what to do.
        let e = DockerHost::connect(&s).await.unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, DockerError::PermissionDenied { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("docker group") && msg.contains("sudo") && msg.contains("node1"));

        // sudo enabled for the host, but sudo can't run here: a sudo-specific error.
        let e = DockerHost::connect_with(
            &s,
            &DockerOptions {
                sudo: Some(true),
                ..DockerOptions::default()
            },
        )
        .await
        .unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, DockerError::SudoFailed { .. }), "{e}");

        // The advice works: in the docker group (new login), the socket channel works.
        add_ops_user(&root, "pw-ops-1", OpsAccess::DockerGroup).await;
        let s = SshSession::connect(&ops, &o, &pw).await.unwrap();
        let link = DockerHost::connect_with(&s, &DockerOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(link.via, Via::Socket(_)));
        assert_eq!(
            link.docker.info().await.unwrap().name.as_deref(),
            Some("node1")
        );
    });
}

/// The two Docker failures that need an odd host: sshd forbidding stream forwarding with
/// no docker CLI to fall back on, and no Docker at all. Each gets its own error naming the
/// host and the fix.
#[test]
fn forwarding_refused_and_docker_not_installed() {
    let Some(lab) = TestLab::start(1) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    let h = &lab.hosts[0];
    rt().block_on(async {
        let strict = lab.ssh_options(&tmp.path().join("kh"));
        let s = SshSession::connect(&inv.hosts[0], &strict, &NoSecrets)
            .await
            .unwrap();
        let sh = |line: String| {
            let s = s.clone();
            async move {
                let out = s.exec(&RemoteCommand::shell(line.clone())).await.unwrap();
                assert!(out.success(), "{line}: {}", out.stderr_lossy());
            }
        };
        // A second sshd on port 2222 that refuses stream-local forwarding.
        sh(format!(
            "setsid -f /usr/sbin/sshd -p 2222 -o ListenAddress={ip} -h {key} \
             -o PidFile=/run/sshd2.pid -o AuthorizedKeysFile={auth} \
             -o PermitRootLogin=prohibit-password -o AllowStreamLocalForwarding=no \
             </dev/null >/dev/null 2>&1; \
             for i in $(seq 50); do [ -f /run/sshd2.pid ] && exit 0; sleep 0.1; done; exit 1",
            ip = h.ip,
            key = h.dir.join("ssh_host_ed25519_key").display(),
            auth = lab.dir.join("authorized_keys").display(),
        ))
        .await;
        // No docker CLI on this host (this mount namespace only).
        sh(
            "for d in $(which -a docker); do mount --bind /dev/null \"$d\"; done; \
            ! command -v docker"
                .into(),
        )
        .await;

        let mut spec = inv.hosts[0].clone();
        spec.port = 2222;
        // Same host key on another port: record it for [ip]:2222 in the test's own file.
        let accept = opts(
            inv.known_hosts.clone(),
            &tmp.path().join("kh"),
            HostKeyPolicy::AcceptNew,
        );
        let s2 = SshSession::connect(&spec, &accept, &NoSecrets)
            .await
            .unwrap();
        let e = DockerHost::connect(&s2).await.unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, DockerError::ForwardingRefused { .. }), "{e}");
        assert!(e.to_string().starts_with("node1:"), "{e}");
        assert!(
            e.to_string().contains("AllowStreamLocalForwarding yes"),
            "{e}"
        );

        // Port 22 allows forwarding: the socket is reached without the CLI.
        let link = DockerHost::connect_with(&s, &DockerOptions::default())
            .await
            .unwrap();
        assert!(matches!(link.via, Via::Socket(_)));

        // No engine, no socket, no CLI: not installed.
        let pid = h.pids.dockerd.expect("lab records dockerd's pid");
        kill_and_wait(pid);
        sh("rm -f /run/docker.sock".into()).await;
        let e = DockerHost::connect(&s).await.unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, DockerError::NotInstalled { .. }), "{e}");
        assert!(
            e.to_string().contains("node1: Docker is not installed"),
            "{e}"
        );
    });
}

/// ProxyJump: node2 refuses SSH from the workstation, node3 from the workstation and node1.
/// Through node1 (its host key checked too) swarmdeck reaches node2's Docker; node3 only
/// through node1 then node2 (like `ssh -J node1,node2`), and a whole cluster snapshot works
/// that way. A target the jump host cannot reach is reported as such.
#[test]
fn jump_host_reaches_a_host_the_workstation_cannot() {
    let Some(lab) = TestLab::start(3) else {
        return;
    };
    let inv = inventory(&lab);
    let tmp = tempfile::tempdir().unwrap();
    let ip = |i: usize| lab.hosts[i].ip.to_string();
    let refuse_ssh = |host: &str, from: &str, how: &[&str]| {
        let mut rule = vec!["iptables", "-I", "INPUT", "-p", "tcp", "--dport", "22"];
        rule.extend(["-s", from, "-j"]);
        rule.extend(how);
        lab.ssh_ok(host, &rule);
    };
    let workstation = lab.workstation_ip.to_string();
    refuse_ssh("node2", &workstation, &["DROP"]);
    // The workstation's own SSH to node3 goes last: these rules are set over it.
    refuse_ssh("node3", &ip(0), &["REJECT", "--reject-with", "tcp-reset"]);
    refuse_ssh("node3", &workstation, &["DROP"]);
    let mut o = lab.ssh_options(&tmp.path().join("kh"));
    o.deadlines.connect = Duration::from_secs(2);
    rt().block_on(async {
        let e = SshSession::connect(&inv.hosts[1], &o, &NoSecrets)
            .await
            .unwrap_err();
        assert!(matches!(e, SshError::Unreachable { .. }), "{e}");

        let mut node2 = inv.hosts[1].clone();
        node2.jump = Some(format!("root@{}", ip(0)));

        // The jump host's key unknown (the target's known): the refusal is about node1, by
        // its name and address, with node1's fingerprint; consent is for node1's key only.
        let only_targets = tmp.path().join("only_targets_kh");
        let lines: String = std::fs::read_to_string(&lab.known_hosts)
            .unwrap()
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(ip(0).as_str()))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&only_targets, lines).unwrap();
        let app = tmp.path().join("jump_app_kh");
        let with = |policy| {
            let mut j = opts(vec![only_targets.clone()], &app, policy);
            j.deadlines.connect = Duration::from_secs(2);
            j
        };
        let jump_fp = known_hosts::fingerprint(&host_key(&lab, 0));
        let e = SshSession::connect(&node2, &with(HostKeyPolicy::Strict), &NoSecrets)
            .await
            .unwrap_err();
        eprintln!("{e}");
        let known_as = match &e {
            SshError::HostKeyUnknown {
                host,
                addr,
                known_as,
                fingerprint,
                ..
            } => {
                assert_eq!(host, &format!("{} (jump host of node2)", ip(0)));
                assert_eq!(addr, &format!("{}:22", ip(0)));
                assert_eq!(known_as, &ip(0));
                assert_eq!(*fingerprint, jump_fp);
                known_as.clone()
            }
            other => panic!("expected the jump host's HostKeyUnknown, got {other}"),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "{} (jump host of node2): the SSH host key of {}:22",
                ip(0),
                ip(0)
            )),
            "{msg}"
        );
        assert!(
            !msg.contains(&ip(1)),
            "the target's address is not named as the key's: {msg}"
        );
        // Consent to node1's fingerprint given as if for node2 does not record it.
        let e = SshSession::connect(
            &node2,
            &with(HostKeyPolicy::TrustFingerprint {
                known_as: ip(1),
                fingerprint: jump_fp.clone(),
            }),
            &NoSecrets,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, SshError::HostKeyUnknown { .. }), "{e}");
        assert!(!app.exists());
        // Consent for node1's key as node1's: recorded for node1 only, and node2 is reached.
        let trust = HostKeyPolicy::TrustFingerprint {
            known_as,
            fingerprint: jump_fp,
        };
        SshSession::connect(&node2, &with(trust), &NoSecrets)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let recorded = std::fs::read_to_string(&app).unwrap();
        assert_eq!(recorded.lines().count(), 1, "{recorded}");
        assert!(
            recorded.starts_with(&format!("{} ssh-ed25519 ", ip(0))),
            "{recorded}"
        );

        let s = SshSession::connect(&node2, &o, &NoSecrets).await.unwrap();
        let docker = DockerHost::connect(&s).await.unwrap();
        let info = docker.info().await.unwrap();
        assert_eq!(info.name.as_deref(), Some("node2"));

        // node3: not through node1 alone (it is refused there), but through both hops.
        let mut node3 = inv.hosts[2].clone();
        node3.jump = Some(format!("root@{}", ip(0)));
        let e = SshSession::connect(&node3, &o, &NoSecrets)
            .await
            .unwrap_err();
        eprintln!("{e}");
        assert!(e.to_string().contains("jump host could not connect"), "{e}");
        node3.jump = Some(format!("root@{}, root@{}", ip(0), ip(1)));
        let s = SshSession::connect(&node3, &o, &NoSecrets).await.unwrap();
        let who = s.exec(&RemoteCommand::new(["hostname"])).await.unwrap();
        assert_eq!(who.stdout_lossy().trim(), "node3");

        // The whole cluster: node2 through node1, node3 through node1 and node2.
        let jumped = swarmdeck::inventory::Inventory {
            hosts: vec![inv.hosts[0].clone(), node2.clone(), node3],
            ..inv.clone()
        };
        jumped.validate().unwrap();
        let cluster =
            swarmdeck::cluster::Cluster::new(jumped, "lab", o.clone(), Arc::new(NoSecrets));
        let snap = cluster.snapshot().await;
        assert_eq!(snap.failed_hosts().count(), 0, "{:?}", snap.hosts);
        assert_eq!(snap.hosts[1].engine_name.as_deref(), Some("node2"));
        assert_eq!(snap.hosts[2].engine_name.as_deref(), Some("node3"));

        // The jump host cannot reach the target's port: said so, naming both.
        let mut nowhere = node2.clone();
        nowhere.port = 2399;
        let e = SshSession::connect(&nowhere, &o, &NoSecrets)
            .await
            .unwrap_err();
        eprintln!("{e}");
        assert!(matches!(e, SshError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("jump host could not connect"), "{e}");
        assert!(e.to_string().contains(&ip(0)), "{e}");
    });
}
