//! The command line, flag for flag as kubectl spells it.

use clap::{ArgAction, Args, Parser, Subcommand};

/// kubectl controls the kubelab cluster manager.
#[derive(Debug, Parser)]
#[command(name = "kubectl", disable_version_flag = true, about = "kubectl controls the kubelab cluster manager.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct Global {
    /// If present, the namespace scope for this CLI request
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true)]
    pub server: Option<String>,
    /// Path to the kubeconfig file to use for CLI requests.
    #[arg(long, global = true)]
    pub kubeconfig: Option<String>,
    /// The name of the kubeconfig context to use
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Log level verbosity (accepted and ignored)
    #[arg(short = 'v', long = "v", global = true, hide = true)]
    pub verbosity: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a particular image on the cluster (as a pod)
    Run(RunArgs),
    /// Print the logs for a container in a pod
    Logs(LogsArgs),
    /// Attach to a running container
    Attach(AttachArgs),
    /// Execute a command in a container
    Exec(ExecArgs),
    /// Forward one or more local ports to a pod
    PortForward(PortForwardArgs),
    /// Mark node as unschedulable
    Cordon(CordonArgs),
    /// Mark node as schedulable
    Uncordon(CordonArgs),
    /// Take a pod, replication controller, replica set or deployment and expose it as a new service
    Expose(ExposeArgs),
    /// Display one or many resources
    Get(GetArgs),
    /// Show details of a specific resource or group of resources
    Describe(DescribeArgs),
    /// Create a resource from a file or from stdin
    Create(CreateArgs),
    /// Apply a configuration to a resource by file name or stdin
    Apply(FileArgs),
    /// Replace a resource by file name or stdin
    Replace(FileArgs),
    /// Delete resources by file names, stdin, resources and names, or by resources and label selector
    Delete(DeleteArgs),
    /// Update the labels on a resource
    Label(LabelArgs),
    /// Update the annotations on a resource
    Annotate(LabelArgs),
    /// Edit a resource on the server
    Edit(EditArgs),
    /// Update fields of a resource
    Patch(PatchArgs),
    /// Set a new size for a deployment, replica set, or replication controller
    Scale(ScaleArgs),
    /// Manage the rollout of a resource
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Set specific features on objects
    #[command(subcommand)]
    Set(SetCommand),
    /// Get documentation for a resource
    Explain(ExplainArgs),
    /// Print the supported API versions on the server, in the form of "group/version"
    ApiVersions,
    /// Print the supported API resources on the server
    ApiResources(ApiResourcesArgs),
    /// Display cluster information
    ClusterInfo(ClusterInfoArgs),
    /// Print the client and server version information
    Version(VersionArgs),
    /// Modify kubeconfig files
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// The pod's name (kubectl reports a missing one itself, so it is optional here)
    pub name: Option<String>,
    /// Arguments for the container (or its command, with --command), after `--`
    #[arg(last = true)]
    pub args: Vec<String>,
    /// The image for the container to run (required)
    #[arg(long)]
    pub image: Option<String>,
    /// The port that this container exposes
    #[arg(long)]
    pub port: Option<String>,
    /// Comma separated labels to apply to the pod (default: run=NAME)
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// Annotations to apply to the pod (KEY=VALUE, repeatable)
    #[arg(long)]
    pub annotations: Vec<String>,
    /// Environment variables to set in the container (KEY=VALUE, repeatable)
    #[arg(long)]
    pub env: Vec<String>,
    /// The restart policy for this pod: Always, OnFailure or Never
    #[arg(long, default_value = "Always")]
    pub restart: String,
    /// The image pull policy for the container (left to the server when empty)
    #[arg(long, default_value = "")]
    pub image_pull_policy: String,
    /// Use the extra arguments as the command instead of the arguments
    #[arg(long)]
    pub command: bool,
    /// Run the container in privileged mode
    #[arg(long)]
    pub privileged: bool,
    /// Also create a ClusterIP service for the pod (needs --port)
    #[arg(long)]
    pub expose: bool,
    /// none, client or server (bare --dry-run means client)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
    /// Output format: yaml, json or name
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Keep stdin open on the container in the pod, even if nothing is attached
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Allocate a TTY for the container in the pod
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Wait for the pod to start running, then attach to it (default: true with -i)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub attach: Option<bool>,
    /// Leave stdin open after the first attach completes (by default it is closed then)
    #[arg(long)]
    pub leave_stdin_open: bool,
    /// Delete the pod after it exits; only valid when attaching (--attach or -i)
    #[arg(long)]
    pub rm: bool,
    /// Suppress prompt messages
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// How long to wait until the pod is running (and, with --restart=Never or OnFailure, completed)
    #[arg(long, default_value = "1m0s", allow_hyphen_values = true)]
    pub pod_running_timeout: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct AttachArgs {
    /// POD, TYPE/NAME or TYPE NAME
    pub args: Vec<String>,
    /// Container name (default: the pod's default or first container)
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the container
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// How long to wait until at least one pod is running
    #[arg(long, default_value = "1m0s", allow_hyphen_values = true)]
    pub pod_running_timeout: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LogsArgs {
    /// POD or TYPE/NAME, optionally followed by the container name
    pub args: Vec<String>,
    /// Print the logs of this container
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Specify if the logs should be streamed
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print the logs of the previous instance of the container
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Include timestamps on each line in the log output
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub timestamps: bool,
    /// Lines of recent log file to display (-1: all; 10 with a selector)
    #[arg(long, allow_hyphen_values = true)]
    pub tail: Option<i64>,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h
    #[arg(long)]
    pub since: Option<String>,
    /// Only return logs after a specific date (RFC3339)
    #[arg(long)]
    pub since_time: Option<String>,
    /// Maximum bytes of logs to return
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub limit_bytes: i64,
    /// Selector (label query) to filter on
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Get all containers' logs in the pod(s)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub all_containers: bool,
    /// Prefix each log line with the log source (pod name and container name)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub prefix: bool,
    /// Maximum number of concurrent logs to follow when using a selector
    #[arg(long, default_value_t = 5)]
    pub max_log_requests: usize,
    /// When following, keep going after errors
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub ignore_errors: bool,
    /// Accepted for compatibility (kubelab does not wait for pods to start)
    #[arg(long, hide = true)]
    pub pod_running_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ExecArgs {
    /// POD or TYPE/NAME (kubectl rejects a command given here without `--`)
    pub args: Vec<String>,
    /// The command and its arguments, after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Container name (default: the pod's default or first container)
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to the container
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Accepted for compatibility (kubelab does not wait for pods to start)
    #[arg(long, hide = true)]
    pub pod_running_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PortForwardArgs {
    /// TYPE/NAME (or POD) followed by [LOCAL_PORT:]REMOTE_PORT pairs
    pub args: Vec<String>,
    /// Addresses to listen on (comma separated): IP addresses or localhost
    #[arg(long, value_delimiter = ',', default_value = "localhost")]
    pub address: Vec<String>,
    /// Accepted for compatibility (kubelab does not wait for pods to start)
    #[arg(long, hide = true)]
    pub pod_running_timeout: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CordonArgs {
    /// Node names
    pub nodes: Vec<String>,
    /// Selector (label query) to filter on
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// none, client or server (bare --dry-run means client)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ExposeArgs {
    /// TYPE NAME or TYPE/NAME
    pub args: Vec<String>,
    /// The name for the new service (default: the exposed object's)
    #[arg(long)]
    pub name: Option<String>,
    /// Type for this service: ClusterIP, NodePort, LoadBalancer, or ExternalName
    #[arg(long = "type")]
    pub service_type: Option<String>,
    /// The port the service serves on (default: the container ports)
    #[arg(long)]
    pub port: Option<String>,
    /// The port on the container the service directs traffic to
    #[arg(long)]
    pub target_port: Option<String>,
    /// The network protocol for the service (default: the container port's, else TCP)
    #[arg(long)]
    pub protocol: Option<String>,
    /// A label selector for the service (default: the exposed object's)
    #[arg(long)]
    pub selector: Option<String>,
    /// Labels for the service (default: the exposed object's)
    #[arg(short = 'l', long)]
    pub labels: Option<String>,
    /// An additional external IP the service accepts traffic on
    #[arg(long)]
    pub external_ip: Option<String>,
    /// The ClusterIP to assign: empty allocates one, `None` makes a headless service
    #[arg(long)]
    pub cluster_ip: Option<String>,
    /// Session affinity: None or ClientIP
    #[arg(long)]
    pub session_affinity: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct GetArgs {
    /// TYPE[.VERSION][.GROUP] [NAME...] or TYPE/NAME...
    pub args: Vec<String>,
    /// Output format: json|yaml|name|wide|jsonpath=...|custom-columns=...
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Selector (label query) to filter on
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Selector (field query) to filter on
    #[arg(long)]
    pub field_selector: Option<String>,
    /// List the requested object(s) across all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// After listing/getting the requested object, watch for changes
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Watch for changes to the requested object(s), without listing/getting first
    #[arg(long)]
    pub watch_only: bool,
    /// When printing, show all labels as the last column
    #[arg(long)]
    pub show_labels: bool,
    /// If true, keep the managedFields when printing objects in JSON or YAML format
    #[arg(long)]
    pub show_managed_fields: bool,
    /// Labels to present as columns
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    pub label_columns: Vec<String>,
    /// Don't print headers
    #[arg(long)]
    pub no_headers: bool,
    /// Sort list types using this field specification (a JSONPath expression)
    #[arg(long)]
    pub sort_by: Option<String>,
    /// If the requested object does not exist the command will return exit code 0
    #[arg(long)]
    pub ignore_not_found: bool,
    /// If present, list the resource type for the requested object(s)
    #[arg(long)]
    pub show_kind: bool,
    /// Files identifying the resources to get
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// Process the directory used in -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DescribeArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// If true, display events related to the described object
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub show_events: bool,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct FileArgs {
    /// The files that contain the configurations
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// Process the directory used in -f recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Output format: only `name` is supported
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub what: Option<CreateCommand>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Record the applied configuration in the last-applied annotation (as apply does)
    #[arg(long)]
    pub save_config: bool,
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create a namespace with the specified name
    #[command(alias = "ns")]
    Namespace { name: String },
    /// Create a deployment with the specified name
    #[command(alias = "deploy")]
    Deployment(CreateDeploymentArgs),
    /// Create a job with the specified name
    Job(CreateJobArgs),
    /// Create a cron job with the specified name
    #[command(alias = "cj")]
    Cronjob(CreateCronJobArgs),
    /// Create a config map from a local file, directory or literal value
    #[command(alias = "cm")]
    Configmap(CreateConfigMapArgs),
    /// Create a secret using a specified subcommand
    Secret {
        #[command(subcommand)]
        what: CreateSecretCommand,
    },
}

/// Where a ConfigMap's or generic Secret's entries come from.
#[derive(Debug, Clone, Default, Args)]
pub struct DataSourceArgs {
    /// A file, or a directory whose files are each an entry, as [KEY=]PATH (the key defaults to the file name)
    #[arg(long, value_delimiter = ',')]
    pub from_file: Vec<String>,
    /// A key and literal value to insert (i.e. mykey=somevalue)
    #[arg(long)]
    pub from_literal: Vec<String>,
    /// A file of KEY=VALUE lines to read the entries from
    #[arg(long, value_delimiter = ',')]
    pub from_env_file: Vec<String>,
}

/// The flags every `create configmap|secret` takes besides its sources.
#[derive(Debug, Clone, Default, Args)]
pub struct CreateOutputArgs {
    /// none, client or server (bare --dry-run means client)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
    /// Output format: yaml, json or name
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateConfigMapArgs {
    pub name: String,
    #[command(flatten)]
    pub sources: DataSourceArgs,
    #[command(flatten)]
    pub out: CreateOutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum CreateSecretCommand {
    /// Create a secret from a local file, directory, or literal value
    Generic(CreateSecretGenericArgs),
    /// Create a TLS secret from a certificate and key file
    Tls(CreateSecretTlsArgs),
    /// Create a secret for use with a Docker registry
    DockerRegistry(CreateSecretDockerArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateSecretGenericArgs {
    pub name: String,
    #[command(flatten)]
    pub sources: DataSourceArgs,
    /// The type of secret to create
    #[arg(long = "type")]
    pub type_: Option<String>,
    #[command(flatten)]
    pub out: CreateOutputArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateSecretTlsArgs {
    pub name: String,
    /// Path to the PEM encoded public key certificate
    #[arg(long)]
    pub cert: Option<String>,
    /// Path to the private key associated with the certificate
    #[arg(long)]
    pub key: Option<String>,
    #[command(flatten)]
    pub out: CreateOutputArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateSecretDockerArgs {
    pub name: String,
    /// Server location for the Docker registry
    #[arg(long, default_value = "https://index.docker.io/v1/")]
    pub docker_server: String,
    /// Username for Docker registry authentication
    #[arg(long)]
    pub docker_username: Option<String>,
    /// Password for Docker registry authentication
    #[arg(long)]
    pub docker_password: Option<String>,
    /// Email for the Docker registry
    #[arg(long)]
    pub docker_email: Option<String>,
    /// A docker config file (such as ~/.docker/config.json) as [KEY=]PATH
    #[arg(long, value_delimiter = ',')]
    pub from_file: Vec<String>,
    #[command(flatten)]
    pub out: CreateOutputArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateDeploymentArgs {
    pub name: String,
    /// A command to run in the container, after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Image names to run (one container per image)
    #[arg(long, required = true)]
    pub image: Vec<String>,
    /// Number of replicas to create
    #[arg(short = 'r', long, default_value_t = 1)]
    pub replicas: i64,
    /// The containerPort this deployment exposes
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub port: i64,
    /// none, client or server (bare --dry-run means client)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
    /// Output format: yaml, json or name
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateJobArgs {
    pub name: String,
    /// A command to run in the container, after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Image name to run
    #[arg(long)]
    pub image: Option<String>,
    /// The cron job to create the job from (cronjob/NAME)
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CreateCronJobArgs {
    pub name: String,
    /// A command to run in the container, after `--`
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Image name to run
    #[arg(long, required = true)]
    pub image: String,
    /// A schedule in the cron format the job should be run with
    #[arg(long, required = true)]
    pub schedule: String,
    /// The job's pod restart policy: OnFailure or Never
    #[arg(long, default_value = "OnFailure")]
    pub restart: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "client", default_value = "none")]
    pub dry_run: String,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show the status of the rollout
    Status(RolloutStatusArgs),
    /// View rollout history
    History(RolloutHistoryArgs),
    /// Undo a previous rollout
    Undo(RolloutUndoArgs),
    /// Mark the provided resource as paused
    Pause(RolloutTargetArgs),
    /// Resume a paused resource
    Resume(RolloutTargetArgs),
    /// Restart a resource
    Restart(RolloutTargetArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct RolloutTargetArgs {
    /// TYPE/NAME or TYPE NAME
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RolloutStatusArgs {
    pub args: Vec<String>,
    /// Watch the status of the rollout until it's done
    #[arg(short = 'w', long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = ArgAction::Set)]
    pub watch: bool,
    /// Pin to a specific revision for showing its status (0: the latest)
    #[arg(long, default_value_t = 0)]
    pub revision: i64,
    /// How long to wait before giving up (0: forever), e.g. 30s, 5m
    #[arg(long, default_value = "0s")]
    pub timeout: String,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RolloutHistoryArgs {
    pub args: Vec<String>,
    /// See the details, including podTemplate of the revision specified
    #[arg(long, default_value_t = 0)]
    pub revision: i64,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RolloutUndoArgs {
    pub args: Vec<String>,
    /// The revision to rollback to (0: the previous one)
    #[arg(long, default_value_t = 0)]
    pub to_revision: i64,
}

#[derive(Debug, Subcommand)]
pub enum SetCommand {
    /// Update the image of a pod template
    Image(SetImageArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct SetImageArgs {
    /// TYPE/NAME... followed by CONTAINER=IMAGE pairs
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DeleteArgs {
    pub args: Vec<String>,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    #[arg(short = 'R', long)]
    pub recursive: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long)]
    pub field_selector: Option<String>,
    /// Delete all resources, in the namespace of the specified resource types
    #[arg(long)]
    pub all: bool,
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// background, foreground, or orphan (true and false are the deprecated spellings)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "background")]
    pub cascade: Option<String>,
    /// Seconds given to the resource to terminate gracefully; -1 uses its default
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub grace_period: i64,
    /// If true, resources are signaled for immediate shutdown (same as --grace-period=1)
    #[arg(long)]
    pub now: bool,
    /// Immediately remove resources from the API and bypass graceful deletion
    #[arg(long)]
    pub force: bool,
    /// If true, wait for resources to be gone before returning
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub wait: bool,
    /// The length of time to wait before giving up on a delete, zero means forever
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    /// Treat "resource not found" as a successful delete
    #[arg(long)]
    pub ignore_not_found: bool,
    /// Output mode: only `name` is supported
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LabelArgs {
    /// TYPE NAME KEY_1=VAL_1 ... KEY_N- (or TYPE/NAME)
    pub args: Vec<String>,
    /// Allow existing values to be overwritten
    #[arg(long)]
    pub overwrite: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Select all resources of the specified types in the namespace
    #[arg(long)]
    pub all: bool,
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// If non-empty, the update only succeeds if this is the current resource-version
    #[arg(long)]
    pub resource_version: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct EditArgs {
    pub args: Vec<String>,
    /// Output format of the file being edited: yaml (default) or json
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PatchArgs {
    pub args: Vec<String>,
    /// The patch to be applied to the resource JSON file
    #[arg(short = 'p', long)]
    pub patch: Option<String>,
    /// A file containing the patch
    #[arg(long)]
    pub patch_file: Option<String>,
    /// The type of patch: json, merge or strategic
    #[arg(long = "type", default_value = "strategic")]
    pub patch_type: String,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ScaleArgs {
    pub args: Vec<String>,
    /// The new desired number of replicas
    #[arg(long)]
    pub replicas: i64,
    /// Precondition for current size
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub current_replicas: i64,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long)]
    pub all: bool,
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ExplainArgs {
    /// TYPE[.FIELD...]
    pub target: String,
    /// Print the fields of fields
    #[arg(long)]
    pub recursive: bool,
    /// Accepted for compatibility; kubelab serves one version per kind
    #[arg(long)]
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ApiResourcesArgs {
    /// wide or name
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// true for namespaced resources only, false for cluster-scoped ones
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub namespaced: Option<bool>,
    /// Limit to resources in the specified API group
    #[arg(long)]
    pub api_group: Option<String>,
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ClusterInfoArgs {
    /// Only `dump` exists in kubectl; kubelab does not implement it
    pub dump: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct VersionArgs {
    /// If true, shows client version only (no server required)
    #[arg(long)]
    pub client: bool,
    /// yaml or json
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Display merged kubeconfig settings or a specified kubeconfig file
    View {
        /// Display raw byte data and sensitive data
        #[arg(long)]
        raw: bool,
        /// Remove all information not used by current-context from the output
        #[arg(long)]
        minify: bool,
        #[arg(short = 'o', long)]
        output: Option<String>,
    },
    /// Display the current-context
    CurrentContext,
    /// Set the current-context in a kubeconfig file
    #[command(alias = "use")]
    UseContext { name: String },
    /// Set a cluster entry in kubeconfig (its address comes from the global --server flag)
    SetCluster { name: String },
    /// Set a context entry in kubeconfig
    SetContext {
        name: Option<String>,
        /// Modify the current context
        #[arg(long)]
        current: bool,
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long)]
        user: Option<String>,
    },
    /// Describe one or many contexts
    GetContexts {
        name: Option<String>,
        #[arg(long)]
        no_headers: bool,
        #[arg(short = 'o', long)]
        output: Option<String>,
    },
    /// Delete the specified context from the kubeconfig
    DeleteContext { name: String },
}

/// Parses `kubectl <args>` as the shell would hand them over (for tests).
#[cfg(test)]
pub(crate) fn parse_args(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("kubectl").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_args as parse;
    use super::*;

    #[test]
    fn get_flags_parse_like_kubectl() {
        let cli = parse(&["get", "po", "-L", "creation_method,env", "-n", "custom-namespace", "-o", "wide"]);
        assert_eq!(cli.global.namespace.as_deref(), Some("custom-namespace"));
        let Command::Get(g) = cli.command else { panic!("expected get") };
        assert_eq!(g.args, ["po"]);
        assert_eq!(g.label_columns, ["creation_method", "env"]);
        assert_eq!(g.output.as_deref(), Some("wide"));
        let cli = parse(&["get", "pods", "-l", "!env", "--show-labels", "-ojsonpath={.items[*].metadata.name}"]);
        let Command::Get(g) = cli.command else { panic!("expected get") };
        assert_eq!(g.selector.as_deref(), Some("!env"));
        assert_eq!(g.output.as_deref(), Some("jsonpath={.items[*].metadata.name}"));
    }

    #[test]
    fn delete_flags_take_kubectl_spellings() {
        let Command::Delete(d) = parse(&["delete", "rc", "kubia", "--cascade=false", "--wait=false"]).command else {
            panic!("expected delete")
        };
        assert_eq!(d.cascade.as_deref(), Some("false"));
        assert!(!d.wait);
        let Command::Delete(d) = parse(&["delete", "po", "--all", "--grace-period=0", "--force"]).command else {
            panic!("expected delete")
        };
        assert!(d.all && d.force && d.wait);
        assert_eq!(d.grace_period, 0);
        let Command::Delete(d) = parse(&["delete", "po", "x", "--cascade"]).command else { panic!("expected delete") };
        assert_eq!(d.cascade.as_deref(), Some("background"));
    }

    #[test]
    fn label_removals_are_not_flags() {
        let Command::Label(l) = parse(&["label", "po", "kubia", "env-", "--overwrite"]).command else {
            panic!("expected label")
        };
        assert_eq!(l.args, ["po", "kubia", "env-"]);
        assert!(l.overwrite);
    }

    #[test]
    fn create_takes_files_or_a_namespace() {
        let Command::Create(c) = parse(&["create", "-f", "kubia-manual.yaml", "-n", "custom-namespace"]).command else {
            panic!("expected create")
        };
        assert_eq!(c.files.filename, ["kubia-manual.yaml"]);
        let Command::Create(c) = parse(&["create", "namespace", "custom-namespace-command"]).command else {
            panic!("expected create")
        };
        assert!(matches!(c.what, Some(CreateCommand::Namespace { name }) if name == "custom-namespace-command"));
    }

    #[test]
    fn config_flags_share_the_global_spellings() {
        let cli = parse(&["config", "set-context", "--current", "--namespace=kube-system"]);
        assert_eq!(cli.global.namespace.as_deref(), Some("kube-system"));
        assert!(matches!(cli.command, Command::Config(ConfigCommand::SetContext { current: true, .. })));
        let cli = parse(&["config", "set-cluster", "lab", "--server=http://127.0.0.1:6443"]);
        assert_eq!(cli.global.server.as_deref(), Some("http://127.0.0.1:6443"));
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        assert!(Cli::try_parse_from(["kubectl", "get", "po", "--frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["kubectl", "frob"]).is_err());
    }
}
