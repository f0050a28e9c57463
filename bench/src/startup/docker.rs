//! The raw Docker side of the startup scenario, on the engine the kubelets
//! use: a pod's containers made directly with bollard (a pause container on
//! the pod network, then an app container joined to its network and IPC
//! namespaces, as the kubelet's runtime does), and the cluster containers'
//! main process IDs for the footprint.
//!
//! Every baseline container carries [`BASELINE_LABEL`]; they are removed after
//! each round, by a [`Cleanup`] guard when the round panics or the run is
//! interrupted, and at the start of a run in case an earlier one was killed.

use crate::stats::Latencies;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use std::collections::HashMap;
use tokio::time::Instant;

/// The label on every container the baseline creates.
pub const BASELINE_LABEL: &str = "bench.kubelab.io/startup-baseline";
/// The pod network the cluster's kubelets attach pause containers to.
pub const POD_NETWORK: &str = "kubelab";
/// The kubelets' `POD_INFRA_CONTAINER_IMAGE`.
pub const PAUSE_IMAGE: &str = "kubelab/pause:latest";

/// Connects to the engine `DOCKER_HOST` names (the local socket by default).
pub async fn connect() -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_local_defaults()?;
    Ok(docker.negotiate_version().await?)
}

/// `image` as Docker names it locally: `luksa/kubia` is `luksa/kubia:latest`.
pub fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// One baseline round's outcome.
#[derive(Debug, Default)]
pub struct Round {
    pub latencies: Latencies,
    pub errors: Vec<String>,
}

/// Creates and starts `count` pause + app pairs at once, each timed from just
/// before the pause container's create to the app container's start having
/// returned, then removes them all.
pub async fn round(docker: &Docker, count: usize, image: &str, run: &str) -> Round {
    let guard = Cleanup::new(run);
    let pairs = (0..count).map(|_| {
        let (docker, image, run) = (docker.clone(), image.to_string(), run.to_string());
        tokio::spawn(async move {
            let started = Instant::now();
            pair(&docker, &image, &run).await.map(|()| started.elapsed())
        })
    });
    let mut out = Round::default();
    for result in futures::future::join_all(pairs.collect::<Vec<_>>()).await {
        match result {
            Ok(Ok(latency)) => out.latencies.record(latency),
            Ok(Err(e)) => out.errors.push(format!("raw docker pod: {e}")),
            Err(e) => out.errors.push(format!("raw docker task panicked: {e}")),
        }
    }
    if let Err(e) = remove_labelled(docker, Some(run)).await {
        out.errors.push(format!("removing the raw docker containers: {e}"));
    }
    guard.disarm();
    out
}

async fn pair(docker: &Docker, image: &str, run: &str) -> Result<(), bollard::errors::Error> {
    let labels = || Some(HashMap::from([(BASELINE_LABEL.to_string(), run.to_string())]));
    let pause = ContainerCreateBody {
        image: Some(PAUSE_IMAGE.to_string()),
        labels: labels(),
        host_config: Some(HostConfig {
            network_mode: Some(POD_NETWORK.to_string()),
            ipc_mode: Some("shareable".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pause_id = docker.create_container(None, pause).await?.id;
    docker.start_container(&pause_id, None).await?;
    let joined = format!("container:{pause_id}");
    let app = ContainerCreateBody {
        image: Some(image.to_string()),
        labels: labels(),
        host_config: Some(HostConfig {
            network_mode: Some(joined.clone()),
            ipc_mode: Some(joined),
            ..Default::default()
        }),
        ..Default::default()
    };
    let app_id = docker.create_container(None, app).await?.id;
    docker.start_container(&app_id, None).await
}

/// Force-removes every container labelled with this run (`run` = Some) or
/// with any run (None, for leftovers of killed runs).
pub async fn remove_labelled(docker: &Docker, run: Option<&str>) -> Result<usize, bollard::errors::Error> {
    let filter = match run {
        Some(run) => format!("{BASELINE_LABEL}={run}"),
        None => BASELINE_LABEL.to_string(),
    };
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([("label".to_string(), vec![filter])]))
        .build();
    let containers = docker.list_containers(Some(options)).await?;
    // App containers before the pause containers whose namespaces they use.
    let mut ids: Vec<(bool, String)> =
        containers.into_iter().filter_map(|c| Some((c.image.as_deref() == Some(PAUSE_IMAGE), c.id?))).collect();
    ids.sort();
    let removals = ids.iter().map(|(_, id)| {
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        docker.remove_container(id, Some(options))
    });
    for result in futures::future::join_all(removals).await {
        match result {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ids.len())
}

/// Removes a run's baseline containers when dropped armed: on a panic, or
/// when the run's future is dropped on Ctrl-C. It runs the removal on a
/// thread of its own with its own runtime, since a drop cannot await.
pub struct Cleanup {
    run: Option<String>,
}

impl Cleanup {
    pub fn new(run: &str) -> Cleanup {
        Cleanup { run: Some(run.to_string()) }
    }

    /// The containers were removed normally; nothing is left to do.
    pub fn disarm(mut self) {
        self.run = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        eprintln!("removing the raw docker baseline's containers ...");
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let docker = connect().await?;
                remove_labelled(&docker, Some(&run)).await?;
                anyhow::Ok(())
            })
        });
        match removal.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not remove the containers labelled {BASELINE_LABEL}: {e:#}"),
            Err(_) => eprintln!("the removal of the containers labelled {BASELINE_LABEL} panicked"),
        }
    }
}

/// The main process ID of each running container whose name is in `names`
/// (missing or stopped ones are left out).
pub async fn main_pids(docker: &Docker, names: &[&str]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for name in names {
        let Ok(info) = docker.inspect_container(name, None::<InspectContainerOptions>).await else { continue };
        let pid = info.state.and_then(|s| s.pid).and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0);
        if let Some(pid) = pid {
            out.push((name.to_string(), pid));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_get_the_tag_docker_stores() {
        assert_eq!(with_tag("luksa/kubia"), "luksa/kubia:latest");
        assert_eq!(with_tag("luksa/kubia:v1"), "luksa/kubia:v1");
        assert_eq!(with_tag("localhost:5000/kubia"), "localhost:5000/kubia:latest");
        assert_eq!(with_tag("busybox@sha256:abc"), "busybox@sha256:abc");
    }
}
