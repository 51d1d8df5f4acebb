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

use conveyor_shared::executor::Registry;

/// Registers `noop`, `sleep`, `shell` and `docker` (each enabled or
/// refusing) and `http`.
pub fn register_builtins(
    registry: &mut Registry,
    allow_shell: bool,
    allow_docker: bool,
    docker: DockerSettings,
) {
    registry
        .register("noop", NoopExecutor)
        .register("sleep", SleepExecutor)
        .register("shell", ShellExecutor::new(allow_shell))
        .register("http", HttpExecutor::new())
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
