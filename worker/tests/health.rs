//! `conveyor-worker healthcheck`, the container health check, reads the
//! heartbeat file the worker writes.

use std::process::Command;

fn healthcheck(file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_conveyor-worker"))
        .arg("healthcheck")
        .env("WORKER_HEARTBEAT_FILE", file)
        .output()
        .expect("run conveyor-worker healthcheck")
}

#[test]
fn a_fresh_heartbeat_is_healthy_unless_it_says_unhealthy() {
    let file = std::env::temp_dir().join(format!("conveyor-health-{}", std::process::id()));
    std::fs::write(&file, "2026-12-05T23:00:00Z").expect("write");
    assert!(healthcheck(&file).status.success());

    // What the heartbeat writes when the finisher has been stuck for over a lease.
    std::fs::write(
        &file,
        format!(
            "{}: finisher stuck for over a lease at …",
            conveyor_worker::UNHEALTHY
        ),
    )
    .expect("write");
    let out = healthcheck(&file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("finisher stuck"));
    let _ = std::fs::remove_file(&file);
}
