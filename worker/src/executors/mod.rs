//! Built-in executors, one file per kind. A new kind is a new file and one
//! line in [`register_builtins`].

mod capture;
mod docker;
mod http;
mod noop;
mod shell;
mod sleep;

pub(crate) use docker::janitor::spawn as docker_janitor;
pub use docker::{DockerExecutor, DockerSettings};
pub use http::HttpExecutor;
pub use noop::NoopExecutor;
pub use shell::ShellExecutor;
pub use sleep::SleepExecutor;

use std::sync::Arc;

use conveyor_shared::executor::Registry;
use conveyor_shared::outbound::OutboundPolicy;

/// Registers `noop`, `sleep`, `shell` and `docker` (each enabled or
/// refusing) and `http`.
pub fn register_builtins(
    registry: &mut Registry,
    allow_shell: bool,
    shell_user: Option<(u32, u32)>,
    allow_docker: bool,
    docker: DockerSettings,
    outbound: Arc<OutboundPolicy>,
) {
    registry
        .register("noop", NoopExecutor)
        .register("sleep", SleepExecutor)
        .register("shell", ShellExecutor::new(allow_shell).run_as(shell_user))
        .register("http", HttpExecutor::new(outbound))
        .register("docker", DockerExecutor::new(allow_docker, docker));
}

/// An error with its causes, `outer: inner: innermost`, for failure messages.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The user shell jobs run as: `configured`, or nobody (65534:65534) when the
/// worker runs as root, since a root job could read any process's secrets.
pub fn shell_user(configured: Option<(u32, u32)>) -> Option<(u32, u32)> {
    configured.or_else(|| nix::unistd::geteuid().is_root().then_some((65534, 65534)))
}

/// Makes this process non-dumpable, so processes of the same user (shell
/// jobs) can neither read `/proc/<worker>/environ` nor its memory. Root
/// bypasses this; see [`shell_user`].
pub fn protect_process() {
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "cannot make the worker non-dumpable; shell jobs of the same user could read its environment");
    }
}
