//! `tollgate --config FILE [--port N] [--host ADDR]`, plus Pingora's `-c -d -u -t`.

use clap::Parser;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tollgate::config;
use tollgate::credentials::aws::AwsCredentialRefresher;
use tollgate::credentials::azure::AzureTokenRefresher;
use tollgate::credentials::vertex_tokens::VertexTokenRefresher;
use tollgate::proxy::TollgateProxy;
use tollgate::reload::ConfigReloader;
use tollgate::services::health::HealthChecker;
use tollgate::state::Gateway;
use tollgate::upstream::UpstreamClient;

#[derive(Parser, Debug)]
#[command(
    name = "tollgate",
    version,
    about = "An LLM API gateway on Pingora, a drop-in for the LiteLLM proxy"
)]
struct Cli {
    /// The LiteLLM-format config file (model_list, litellm_settings, router_settings, general_settings).
    #[arg(long, env = "CONFIG_FILE_PATH")]
    config: PathBuf,
    /// Port to listen on.
    #[arg(long, default_value_t = 4000, env = "PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// With `-t`: fail on any warning too (for a config repository's CI).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    pingora: Opt,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();

    let loaded = match config::load_file(&cli.config) {
        Ok(l) => l,
        Err(errors) => {
            eprintln!("{}: invalid config:\n{errors}", cli.config.display());
            return ExitCode::FAILURE;
        }
    };
    for w in &loaded.warnings {
        log::warn!("config: {w}");
    }
    let server_conf = match load_server_conf(&cli.pingora) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("invalid server conf: {e}");
            return ExitCode::FAILURE;
        }
    };
    let upstream = UpstreamClient::from_server_conf(&server_conf);
    let warnings_seen = loaded.warnings.len();
    let gateway = match Gateway::with_upstream(loaded.config, upstream) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}: invalid config: {e}", cli.config.display());
            return ExitCode::FAILURE;
        }
    };
    if cli.pingora.test {
        let snapshot = gateway.snapshot.load();
        let aliases = snapshot.models.aliases().len();
        let left_out = snapshot.models.left_out().count();
        let warnings = warnings_seen;
        if cli.strict && (warnings > 0 || left_out > 0) {
            eprintln!(
                "{}: {warnings} warnings, {left_out} deployments left out: refused (--strict)",
                cli.config.display()
            );
            return ExitCode::FAILURE;
        }
        println!(
            "{}: config OK ({aliases} model aliases, {warnings} warnings, {left_out} deployments left out)",
            cli.config.display()
        );
        return ExitCode::SUCCESS;
    }
    // The conf file was read above; Pingora would warn that it is ignoring the flag.
    let mut opt = cli.pingora;
    opt.conf = None;
    let mut server = Server::new_with_opt_and_conf(opt, server_conf);
    server.bootstrap();
    server.add_service(pingora::services::background::background_service(
        "health checks",
        HealthChecker {
            gateway: Arc::clone(&gateway),
        },
    ));
    server.add_service(pingora::services::background::background_service(
        "config reload",
        // Absolute, so a daemonized process (which changes directory) still finds it.
        ConfigReloader::new(
            Arc::clone(&gateway),
            std::fs::canonicalize(&cli.config).unwrap_or(cli.config.clone()),
        ),
    ));
    server.add_service(pingora::services::background::background_service(
        "vertex token refresh",
        VertexTokenRefresher::new(Arc::clone(&gateway)),
    ));
    server.add_service(pingora::services::background::background_service(
        "aws credential refresh",
        AwsCredentialRefresher::new(Arc::clone(&gateway)),
    ));
    server.add_service(pingora::services::background::background_service(
        "azure token refresh",
        AzureTokenRefresher::new(Arc::clone(&gateway)),
    ));
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        TollgateProxy { gateway },
        "tollgate",
    );
    let addr = listen_addr(&cli.host, cli.port);
    proxy.add_tcp(&addr);
    server.add_service(proxy);
    log::info!("tollgate {} listening on {addr}", env!("CARGO_PKG_VERSION"));
    server.run_forever()
}

/// Pingora's server conf from `-c`, or defaults with one worker thread per core (Pingora's own
/// default is a single thread).
fn load_server_conf(opt: &Opt) -> Result<ServerConf, String> {
    match &opt.conf {
        Some(path) => ServerConf::load_from_yaml(path).map_err(|e| format!("{path}: {e}")),
        None => Ok(ServerConf {
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            // Pingora waits 300 s after SIGTERM by default; without a load balancer to drain,
            // a few seconds let in-flight calls finish without stalling `systemctl stop`.
            grace_period_seconds: Some(1),
            graceful_shutdown_timeout_seconds: Some(10),
            ..ServerConf::default()
        }),
    }
}

fn listen_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
