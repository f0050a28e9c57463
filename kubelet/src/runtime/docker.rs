//! The Docker runtime, through the Engine API (bollard).
//!
//! A pod is a pause container on the pod network, which owns the pod's network
//! namespace, IPC namespace and hostname, plus app containers started with
//! `network_mode: container:<pause>` so they share its localhost and IP — the
//! layout of Kubernetes' dockershim. Containers carry the kubelet's labels and
//! dockershim's names (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`).

use super::probing::probe_network;
use super::{
    ByteStream, Connection, ContainerConfig, ContainerInfo, ContainerMeta, ContainerState, ContainerSummary, ExecChunk,
    ExecSession, ImageInfo, LogOptions, MemoryVolume, Mount, MountSource, ProbeAction, ProbeOutcome, ProbeTarget,
    Result, Runtime, RuntimeError, SandboxConfig, LABEL_NODE, LABEL_POD_UID,
};
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, ContainerSummaryStateEnum, HostConfig};
use bollard::models::{ContainerInspectResponse, MountType, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, ListVolumesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    ResizeContainerTTYOptionsBuilder, ResizeExecOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use client::Object;
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// bollard's default request timeout; stops get their grace period on top.
const REQUEST_TIMEOUT: u64 = 120;
/// Probe and `kubectl logs` output beyond this is cut, as Kubernetes' prober does.
const MAX_PROBE_OUTPUT: usize = 10 * 1024;

pub struct DockerRuntime {
    docker: Docker,
    network: String,
    /// Image id -> the imageID pod status shows (repo digests rarely change).
    image_ids: Mutex<HashMap<String, String>>,
    /// Set when the node runs its proxy and DNS server.
    services: Option<ServiceNetwork>,
    /// Memory volumes this process created (they did not exist before) and
    /// that no sandbox has mounted yet: empty tmpfs volumes.
    fresh_volumes: Mutex<HashSet<String>>,
    /// (sandbox id, dir) of the fresh memory volumes a sandbox this process
    /// made mounts at dir, not written yet: the first write unpacks the
    /// whole layout, no app container being there to see it appear.
    unwritten: Mutex<HashSet<(String, String)>>,
}

/// What pods need to reach services through their node: the route the pause
/// container adds, and the cluster DNS server in their resolv.conf.
#[derive(Debug, Clone)]
pub struct ServiceNetwork {
    /// The service CIDR, `10.96.0.0/12`: routed via `gateway`.
    pub cidr: String,
    /// The node's IP, where the proxy holds every ClusterIP.
    pub gateway: String,
    /// `--cluster-dns`.
    pub cluster_dns: Vec<String>,
    /// `--cluster-domain`.
    pub domain: String,
}

/// Docker's mounts for a container's: bind mounts of host paths, and the
/// pod's memory volumes by name.
fn docker_mounts(mounts: &[Mount]) -> Option<Vec<bollard::models::Mount>> {
    if mounts.is_empty() {
        return None;
    }
    let docker = mounts
        .iter()
        .map(|m| {
            let (typ, source) = match &m.source {
                MountSource::Path(p) => (MountType::BIND, p),
                MountSource::Volume(v) => (MountType::VOLUME, v),
            };
            bollard::models::Mount {
                target: Some(m.target.clone()),
                source: Some(source.clone()),
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            }
        })
        .collect();
    Some(docker)
}

/// The pause container's settings for `services`: CAP_NET_ADMIN and the env
/// it adds its route from, and the pod's resolver settings (app containers
/// share its namespace, so its resolv.conf is theirs too).
fn sandbox_services(services: &ServiceNetwork, pod: &Pod, host: &mut HostConfig) -> Vec<String> {
    host.cap_add = Some(vec!["NET_ADMIN".into()]);
    if let Some(dns) = crate::dns::pod_dns_config(pod, &services.cluster_dns, &services.domain) {
        for warning in &dns.warnings {
            tracing::warn!(pod = %pod.name(), "{warning}");
        }
        let some = |v: Vec<String>| Some(v).filter(|v| !v.is_empty());
        host.dns = some(dns.nameservers);
        host.dns_search = some(dns.searches);
        host.dns_options = some(dns.options);
    }
    vec![format!("KUBELAB_SERVICE_CIDR={}", services.cidr), format!("KUBELAB_SERVICE_GATEWAY={}", services.gateway)]
}

/// The domain a pod with `spec.subdomain` lives in, `<subdomain>.<ns>.svc.<domain>`:
/// Docker writes `<ip> <hostname>.<domainname> <hostname>` into the sandbox's
/// /etc/hosts (which its app containers share), as the kubelet's managed hosts
/// file does, so `hostname -f` gives the pod's FQDN.
fn pod_domainname(pod: &Pod, domain: &str) -> Option<String> {
    let subdomain = pod.spec.as_ref()?.subdomain.as_deref().filter(|s| !s.is_empty())?;
    Some(format!("{subdomain}.{}.svc.{domain}", pod.namespace()))
}

fn error(e: DockerError) -> RuntimeError {
    match e {
        DockerError::DockerResponseServerError { status_code: 404, message } => RuntimeError::NotFound(message),
        DockerError::DockerResponseServerError { message, .. } => RuntimeError::Failed(message),
        DockerError::RequestTimeoutError => {
            RuntimeError::Unavailable("the Docker engine did not answer in time".into())
        }
        other @ (DockerError::HyperResponseError { .. }
        | DockerError::IOError { .. }
        | DockerError::SocketNotFoundError(_)) => {
            RuntimeError::Unavailable(format!("Cannot connect to the Docker daemon: {other}"))
        }
        other => RuntimeError::Failed(other.to_string()),
    }
}

/// Docker leaves never-set times as the zero time.
fn parse_time(s: Option<&str>) -> Option<Timestamp> {
    let t: Timestamp = s?.parse().ok()?;
    (t.as_second() > 0).then_some(t)
}

/// `luksa/kubia` -> `luksa/kubia:latest`: a pull without a tag would fetch every tag.
fn with_tag(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The first host address of an IPv4 subnet: `10.244.0.0/16` -> `10.244.0.1`.
fn first_address(subnet: &str) -> Option<String> {
    let (addr, _) = subnet.split_once('/')?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    Some(std::net::Ipv4Addr::from(u32::from(ip).checked_add(1)?).to_string())
}

impl DockerRuntime {
    /// Connects to the engine at `host` (`unix:///var/run/docker.sock`, `tcp://...`)
    /// and agrees on an API version it speaks.
    pub async fn connect(host: &str, network: &str) -> Result<Self> {
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_http(host, REQUEST_TIMEOUT, bollard::API_DEFAULT_VERSION)
        }
        .map_err(error)?;
        let docker = docker.negotiate_version().await.map_err(error)?;
        Ok(Self {
            docker,
            network: network.to_string(),
            image_ids: Default::default(),
            services: None,
            fresh_volumes: Default::default(),
            unwritten: Default::default(),
        })
    }

    /// Pods get the route to the service CIDR and the cluster DNS server.
    pub fn with_services(mut self, services: ServiceNetwork) -> Self {
        self.services = Some(services);
        self
    }

    /// Creates the pod network if it does not exist yet (a bridge network:
    /// every container on it, and the host, reach every other by IP).
    pub async fn ensure_network(&self) -> Result<()> {
        match self.docker.inspect_network(&self.network, None).await {
            Ok(_) => return Ok(()),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(error(e)),
        }
        tracing::info!(network = %self.network, "creating the pod network");
        let request = NetworkCreateRequest {
            name: self.network.clone(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([("kubelab".to_string(), "pod-network".to_string())])),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Another kubelet made it first.
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    /// The pod network's gateway (the host's address on it). A network made
    /// with only a subnet does not name its gateway: Docker takes the subnet's
    /// first address.
    pub async fn network_gateway(&self) -> Result<Option<String>> {
        let net = self.docker.inspect_network(&self.network, None).await.map_err(error)?;
        let configs = net.ipam.and_then(|i| i.config).unwrap_or_default();
        let named = configs.iter().filter_map(|c| c.gateway.clone()).find(|g| !g.is_empty());
        Ok(named.or_else(|| configs.iter().filter_map(|c| c.subnet.as_deref()).find_map(first_address)))
    }

    async fn create_named(&self, name: &str, body: ContainerCreateBody) -> Result<String> {
        let options = || Some(CreateContainerOptionsBuilder::new().name(name).build());
        match self.docker.create_container(options(), body.clone()).await {
            Ok(r) => Ok(r.id),
            // A leftover with the same name (a kubelet that died between create and
            // start, then lost track of it): it never ran, so it can go.
            Err(DockerError::DockerResponseServerError { status_code: 409, .. }) => {
                let force = RemoveContainerOptionsBuilder::new().force(true).build();
                self.docker.remove_container(name, Some(force)).await.map_err(error)?;
                self.docker.create_container(options(), body).await.map(|r| r.id).map_err(error)
            }
            Err(e) => Err(error(e)),
        }
    }

    async fn image_ref(&self, image_id: &str) -> String {
        if let Some(known) = self.image_ids.lock().expect("image cache lock").get(image_id) {
            return known.clone();
        }
        let shown = match self.docker.inspect_image(image_id).await {
            Ok(img) => match img.repo_digests.unwrap_or_default().into_iter().next() {
                Some(digest) => format!("docker-pullable://{digest}"),
                None => format!("docker://{image_id}"),
            },
            Err(_) => return format!("docker://{image_id}"),
        };
        self.image_ids.lock().expect("image cache lock").insert(image_id.to_string(), shown.clone());
        shown
    }

    async fn info(&self, c: ContainerInspectResponse) -> Option<ContainerInfo> {
        let config = c.config.unwrap_or_default();
        let meta = ContainerMeta::from_labels(&config.labels.unwrap_or_default())?;
        let state = c.state.unwrap_or_default();
        let error = state.error.clone().unwrap_or_default();
        let created_at = parse_time(c.created.as_deref()).unwrap_or(Timestamp::UNIX_EPOCH);
        let status = match state.status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::PAUSED
                | ContainerStateStatusEnum::RESTARTING,
            ) => ContainerState::Running,
            // A start that failed (no such executable, ...) leaves it "created" with an
            // error; for the pod it ended, as Kubernetes reports a StartError.
            Some(ContainerStateStatusEnum::CREATED) if !error.is_empty() => ContainerState::Exited,
            Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) => ContainerState::Exited,
            _ => ContainerState::Unknown,
        };
        let ip = c
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut nets| nets.remove(&self.network))
            .and_then(|n| n.ip_address)
            .filter(|ip| !ip.is_empty());
        let image_id = match c.image {
            Some(id) => self.image_ref(&id).await,
            None => String::new(),
        };
        Some(ContainerInfo {
            id: c.id.unwrap_or_default(),
            meta,
            state: status,
            image: config.image.unwrap_or_default(),
            image_id,
            created_at,
            started_at: parse_time(state.started_at.as_deref()),
            finished_at: match parse_time(state.finished_at.as_deref()) {
                Some(t) => Some(t).filter(|_| status == ContainerState::Exited),
                // Never started: it failed when it was made.
                None => Some(created_at).filter(|_| status == ContainerState::Exited),
            },
            exit_code: state.exit_code.unwrap_or(0),
            oom_killed: state.oom_killed.unwrap_or(false),
            error,
            ip: ip.filter(|_| status == ContainerState::Running),
        })
    }

    async fn list(&self, labels: &[String]) -> Result<Vec<bollard::models::ContainerSummary>> {
        let filters = HashMap::from([("label".to_string(), labels.to_vec())]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        self.docker.list_containers(Some(options)).await.map_err(error)
    }

    /// Runs a command to completion (exec probes): exit code and the first 10 KiB of output.
    async fn run_exec(&self, id: &str, command: &[String]) -> Result<(i64, String)> {
        let session = self.exec(id, command, false, false).await?;
        let mut output = Vec::new();
        let mut stream = session.output;
        while let Some(chunk) = stream.next().await {
            let (ExecChunk::Stdout(b) | ExecChunk::Stderr(b)) = chunk?;
            if output.len() < MAX_PROBE_OUTPUT {
                output.extend_from_slice(&b[..b.len().min(MAX_PROBE_OUTPUT - output.len())]);
            }
        }
        let code = self.exec_exit_code(&session.id).await?;
        Ok((code, String::from_utf8_lossy(&output).into_owned()))
    }
}

/// The smallest memory limit Docker accepts.
const MIN_MEMORY_LIMIT: i64 = 6 << 20;

#[async_trait::async_trait]
impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn version(&self) -> Result<String> {
        let v = self.docker.version().await.map_err(error)?;
        Ok(format!("docker://{}", v.version.unwrap_or_default()))
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(image).await {
            Ok(img) => Ok(Some(ImageInfo {
                id: img.id.unwrap_or_default(),
                size: img.size.unwrap_or(0),
                repo_digests: img.repo_digests.unwrap_or_default(),
            })),
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    async fn pull_image(&self, image: &str) -> Result<()> {
        let options = CreateImageOptionsBuilder::new().from_image(&with_tag(image)).build();
        let mut progress = self.docker.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            let step = step.map_err(error)?;
            if let Some(e) = step.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::Failed(e));
            }
        }
        Ok(())
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let mut host = HostConfig {
            network_mode: Some(self.network.clone()),
            // App containers join its IPC namespace, as in a Kubernetes pod.
            ipc_mode: Some("shareable".into()),
            mounts: docker_mounts(&config.mounts),
            ..Default::default()
        };
        let env = self.services.as_ref().map(|s| sandbox_services(s, &config.pod, &mut host));
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            hostname: Some(config.hostname.clone()),
            domainname: self.services.as_ref().and_then(|s| pod_domainname(&config.pod, &s.domain)),
            labels: Some(config.meta.labels()),
            env,
            host_config: Some(host),
            ..Default::default()
        };
        let id = self.create_named(&config.meta.docker_name(), body).await?;
        {
            let mut fresh = self.fresh_volumes.lock().expect("fresh volumes lock");
            let mut unwritten = self.unwritten.lock().expect("unwritten volumes lock");
            for m in &config.mounts {
                if let MountSource::Volume(name) = &m.source {
                    // Only this sandbox gets the volume as fresh: a later one
                    // (the pod's sandbox re-created) finds it written.
                    if fresh.remove(name) {
                        unwritten.insert((id.clone(), m.target.clone()));
                    }
                }
            }
        }
        self.start_container(&id).await?;
        Ok(id)
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        let joined = format!("container:{}", config.sandbox_id);
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            entrypoint: config.entrypoint.clone(),
            cmd: config.cmd.clone(),
            env: Some(config.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: config.working_dir.clone(),
            labels: Some(config.meta.labels()),
            tty: Some(config.tty),
            open_stdin: Some(config.stdin),
            stdin_once: Some(config.stdin_once),
            host_config: Some(HostConfig {
                // Same network namespace (localhost, IP, hostname) and IPC as the pause container.
                network_mode: Some(joined.clone()),
                ipc_mode: Some(joined),
                // Docker refuses limits under 6 MiB; the book's downward API pod
                // asks for 4Mi (its resourceFieldRefs still report 4Mi).
                memory: config.memory_limit.map(|m| m.max(MIN_MEMORY_LIMIT)),
                nano_cpus: config.nano_cpus,
                cpu_shares: config.cpu_shares,
                mounts: docker_mounts(&config.mounts),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.create_named(&config.meta.docker_name(), body).await
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker.start_container(id, None).await.map_err(error)
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let secs = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(secs).build();
        // The call returns when the container is gone, which may take the whole grace period.
        let docker = self.docker.clone().with_timeout(Duration::from_secs(REQUEST_TIMEOUT) + grace);
        match docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: it was not running.
            Err(DockerError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        self.docker.remove_container(id, Some(options)).await.map_err(error)
    }

    async fn create_memory_volume(&self, volume: &MemoryVolume) -> Result<()> {
        // The local driver mounts a tmpfs on the volume's first use and shares
        // that one mount with every container using the volume (a container's
        // own tmpfs mount could not be shared with another container).
        let mut options = HashMap::from([("type".to_string(), "tmpfs".to_string()), ("device".into(), "tmpfs".into())]);
        if let Some(size) = volume.size_bytes {
            options.insert("o".into(), format!("size={size}"));
        }
        let labels = HashMap::from([
            (LABEL_POD_UID.to_string(), volume.pod_uid.clone()),
            (LABEL_NODE.to_string(), volume.node.clone()),
        ]);
        let request = VolumeCreateRequest {
            name: Some(volume.name.clone()),
            driver: Some("local".into()),
            driver_opts: Some(options),
            labels: Some(labels),
            ..Default::default()
        };
        // Docker answers with the existing volume when the name is taken;
        // one that did not exist is empty, which its first write can use.
        let existed = match self.docker.inspect_volume(&volume.name).await {
            Ok(_) => true,
            Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => false,
            Err(e) => return Err(error(e)),
        };
        self.docker.create_volume(request).await.map_err(error)?;
        if !existed {
            self.fresh_volumes.lock().expect("fresh volumes lock").insert(volume.name.clone());
        }
        Ok(())
    }

    async fn remove_pod_volumes(&self, node: &str, pod_uid: &str) -> Result<()> {
        let filters =
            HashMap::from([("label", vec![format!("{LABEL_NODE}={node}"), format!("{LABEL_POD_UID}={pod_uid}")])]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        let list = self.docker.list_volumes(Some(options)).await.map_err(error)?;
        for v in list.volumes.unwrap_or_default() {
            match self.docker.remove_volume(&v.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await {
                Ok(()) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(())
    }

    async fn write_memory_volume(
        &self,
        sandbox_id: &str,
        dir: &str,
        payload: &crate::atomic::Payload,
        version: &str,
    ) -> Result<()> {
        // The kubelet cannot reach the tmpfs (the engine mounts it in the host's
        // namespace, outside the kubelet's container): the new version goes in
        // through the engine's archive upload into the sandbox, which mounts the
        // volume, and the swap runs in the sandbox with its busybox (a rename,
        // as the atomic writer does). See pods::volumes.
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        // The first write into a fresh volume, before any app container
        // runs: the whole layout in one upload, no exec. An exec costs the
        // engine about what starting a container does (runc, a shim), and
        // this one was on every such pod's way to its first container.
        let first =
            self.unwritten.lock().expect("unwritten volumes lock").remove(&(sandbox_id.to_string(), dir.to_string()));
        if let Some(layout) = first.then(|| crate::atomic::layout_tar(payload, version, now)).flatten() {
            let options = bollard::query_parameters::UploadToContainerOptionsBuilder::new().path(dir).build();
            return self
                .docker
                .upload_to_container(sandbox_id, Some(options), bollard::body_full(layout.into()))
                .await
                .map_err(error);
        }
        let tar = crate::atomic::version_tar(payload, version, now);
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::new().path(dir).build();
        self.docker
            .upload_to_container(sandbox_id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(error)?;
        let script = crate::atomic::swap_script(dir, version, &crate::atomic::top_level(payload));
        let command = ["/bin/busybox".to_string(), "sh".into(), "-c".into(), script];
        match self.run_exec(sandbox_id, &command).await? {
            (0, _) => Ok(()),
            (code, output) => {
                Err(RuntimeError::Failed(format!("updating the files in {dir} failed ({code}): {output}")))
            }
        }
    }

    async fn list_containers(&self, node: &str) -> Result<Vec<ContainerSummary>> {
        let list = self.list(&[format!("{LABEL_NODE}={node}")]).await?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let meta = ContainerMeta::from_labels(c.labels.as_ref()?)?;
                let state = match c.state {
                    Some(
                        ContainerSummaryStateEnum::RUNNING
                        | ContainerSummaryStateEnum::PAUSED
                        | ContainerSummaryStateEnum::RESTARTING,
                    ) => ContainerState::Running,
                    Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
                    Some(ContainerSummaryStateEnum::EXITED | ContainerSummaryStateEnum::DEAD) => ContainerState::Exited,
                    _ => ContainerState::Unknown,
                };
                Some(ContainerSummary { id: c.id?, meta: Arc::new(meta), state })
            })
            .collect())
    }

    async fn pod_containers(&self, node: &str, pod_uid: &str) -> Result<Vec<ContainerInfo>> {
        let list = self.list(&[format!("{LABEL_NODE}={node}"), format!("{LABEL_POD_UID}={pod_uid}")]).await?;
        let inspections = list
            .into_iter()
            .filter_map(|c| c.id)
            .map(|id| async move { self.docker.inspect_container(&id, None::<InspectContainerOptions>).await });
        let mut infos = Vec::new();
        for result in futures::future::join_all(inspections).await {
            match result {
                Ok(c) => infos.extend(self.info(c).await),
                // Removed between the list and the inspect.
                Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(infos)
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<ByteStream> {
        // Fail now (not mid-stream) for a container that does not exist.
        self.docker.inspect_container(id, None::<InspectContainerOptions>).await.map_err(error)?;
        let tail = options.tail.filter(|n| *n >= 0).map(|n| n.to_string()).unwrap_or_else(|| "all".into());
        let mut builder = LogsOptionsBuilder::new()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .timestamps(options.timestamps)
            .tail(&tail);
        if let Some(secs) = options.since_seconds.filter(|s| *s > 0) {
            let since = Timestamp::now().as_second() - secs;
            builder = builder.since(i32::try_from(since).unwrap_or(0));
        }
        let stream = self.docker.logs(id, Some(builder.build())).map(|item| match item {
            Ok(out) => Ok(out.into_bytes().to_vec()),
            Err(e) => Err(error(e)),
        });
        Ok(Box::pin(stream))
    }

    async fn exec(&self, id: &str, command: &[String], tty: bool, stdin: bool) -> Result<ExecSession> {
        let config = CreateExecOptions {
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            cmd: Some(command.to_vec()),
            ..Default::default()
        };
        let exec_id = self.docker.create_exec(id, config).await.map_err(error)?.id;
        let start = StartExecOptions { detach: false, tty, output_capacity: None };
        match self.docker.start_exec(&exec_id, Some(start)).await.map_err(error)? {
            StartExecResults::Attached { output, input } => {
                let output = output.map(|item| match item {
                    Ok(LogOutput::StdErr { message }) => Ok(ExecChunk::Stderr(message.to_vec())),
                    Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                        Ok(ExecChunk::Stdout(message.to_vec()))
                    }
                    Ok(LogOutput::StdIn { .. }) => Ok(ExecChunk::Stdout(Vec::new())),
                    Err(e) => Err(error(e)),
                });
                Ok(ExecSession { id: exec_id, output: Box::pin(output), stdin: stdin.then_some(input) })
            }
            StartExecResults::Detached => Err(RuntimeError::Failed("exec started detached".into())),
        }
    }

    async fn attach(&self, id: &str, _tty: bool, stdin: bool, from_start: bool) -> Result<ExecSession> {
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .logs(from_start)
            .stdin(stdin)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = self.docker.attach_container(id, Some(options)).await.map_err(error)?;
        let output = attached.output.map(|item| match item {
            Ok(LogOutput::StdErr { message }) => Ok(ExecChunk::Stderr(message.to_vec())),
            Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                Ok(ExecChunk::Stdout(message.to_vec()))
            }
            Ok(LogOutput::StdIn { .. }) => Ok(ExecChunk::Stdout(Vec::new())),
            Err(e) => Err(error(e)),
        });
        Ok(ExecSession { id: id.to_string(), output: Box::pin(output), stdin: stdin.then_some(attached.input) })
    }

    async fn resize_attach(&self, id: &str, cols: u16, rows: u16) -> Result<()> {
        let options = ResizeContainerTTYOptionsBuilder::new().w(i32::from(cols)).h(i32::from(rows)).build();
        self.docker.resize_container_tty(id, options).await.map_err(error)
    }

    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
        let options = ResizeExecOptionsBuilder::new().w(i32::from(cols)).h(i32::from(rows)).build();
        self.docker.resize_exec(exec_id, options).await.map_err(error)
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        // The stream can end a moment before the engine records the exit code.
        for _ in 0..50 {
            let inspect = self.docker.inspect_exec(exec_id).await.map_err(error)?;
            if inspect.running != Some(true) {
                return Ok(inspect.exit_code.unwrap_or(0));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(RuntimeError::Failed(format!("exec {exec_id} did not finish")))
    }

    async fn probe(&self, target: &ProbeTarget, action: &ProbeAction, timeout: Duration) -> ProbeOutcome {
        let ProbeAction::Exec { command } = action else {
            return probe_network(&target.pod_ip, action, timeout).await;
        };
        match tokio::time::timeout(timeout, self.run_exec(&target.container_id, command)).await {
            Ok(Ok((0, _))) => ProbeOutcome::Success,
            Ok(Ok((_, output))) => ProbeOutcome::Failure(output),
            Ok(Err(e)) => ProbeOutcome::Error(e.to_string()),
            Err(_) => ProbeOutcome::Failure(format!("command {:?} timed out", command.join(" "))),
        }
    }

    async fn connect(&self, pod_ip: &str, port: u16) -> Result<Box<dyn Connection>> {
        let stream = tokio::net::TcpStream::connect((pod_ip, port))
            .await
            .map_err(|e| RuntimeError::Failed(format!("dial tcp {pod_ip}:{port}: {e}")))?;
        stream.set_nodelay(true).ok();
        Ok(Box::new(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulls_name_a_tag() {
        assert_eq!(with_tag("luksa/kubia"), "luksa/kubia:latest");
        assert_eq!(with_tag("luksa/kubia:v2"), "luksa/kubia:v2");
        assert_eq!(with_tag("localhost:5000/kubia"), "localhost:5000/kubia:latest");
        assert_eq!(with_tag("busybox@sha256:abc"), "busybox@sha256:abc");
    }

    #[test]
    fn a_subnet_without_gateway_uses_its_first_address() {
        assert_eq!(first_address("10.244.0.0/16").as_deref(), Some("10.244.0.1"));
        assert_eq!(first_address("fd00::/64"), None);
    }

    #[test]
    fn with_services_the_sandbox_routes_them_and_resolves_through_cluster_dns() {
        let services = ServiceNetwork {
            cidr: "10.96.0.0/12".into(),
            gateway: "10.244.0.3".into(),
            cluster_dns: vec!["10.96.0.10".into()],
            domain: "cluster.local".into(),
        };
        let typed = |v| -> Pod { serde_json::from_value(v).unwrap() };
        let pod = typed(serde_json::json!({"metadata": {"namespace": "team", "name": "kubia"}, "spec": {}}));
        let mut host = HostConfig::default();
        let env = sandbox_services(&services, &pod, &mut host);
        assert_eq!(env, ["KUBELAB_SERVICE_CIDR=10.96.0.0/12", "KUBELAB_SERVICE_GATEWAY=10.244.0.3"]);
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(host.dns, Some(vec!["10.96.0.10".to_string()]));
        assert_eq!(
            host.dns_search,
            Some(vec!["team.svc.cluster.local".to_string(), "svc.cluster.local".into(), "cluster.local".into()])
        );
        assert_eq!(host.dns_options, Some(vec!["ndots:5".to_string()]));

        // dnsPolicy Default: the node's resolver, still the route.
        let pod = typed(
            serde_json::json!({"metadata": {"namespace": "team", "name": "kubia"}, "spec": {"dnsPolicy": "Default"}}),
        );
        let mut host = HostConfig::default();
        assert_eq!(sandbox_services(&services, &pod, &mut host).len(), 2);
        assert_eq!((host.dns, host.dns_search), (None, None));
    }

    #[test]
    fn a_pod_with_a_subdomain_gets_its_services_domain() {
        let typed = |v| -> Pod { serde_json::from_value(v).unwrap() };
        let pet = typed(serde_json::json!({"metadata": {"namespace": "default", "name": "kubia-0"},
            "spec": {"hostname": "kubia-0", "subdomain": "kubia"}}));
        assert_eq!(pod_domainname(&pet, "cluster.local").as_deref(), Some("kubia.default.svc.cluster.local"));
        let plain = typed(serde_json::json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {}}));
        assert_eq!(pod_domainname(&plain, "cluster.local"), None);
    }

    #[test]
    fn zero_times_are_unset() {
        assert_eq!(parse_time(Some("0001-01-01T00:00:00Z")), None);
        assert!(parse_time(Some("2024-05-01T10:00:00.123456789Z")).is_some());
    }
}
