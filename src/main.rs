//! `tollgate --config FILE [--port N] [--host ADDR]`, plus Pingora's `-c -d -u -t`.

use clap::Parser;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tollgate::auth::directory::Directory;
use tollgate::config;
use tollgate::credentials::aws::AwsCredentialRefresher;
use tollgate::credentials::azure::AzureTokenRefresher;
use tollgate::credentials::vertex_tokens::VertexTokenRefresher;
use tollgate::proxy::TollgateProxy;
use tollgate::reload::ConfigReloader;
use tollgate::services::health::HealthChecker;
use tollgate::services::store_sync::{load, StoreSync};
use tollgate::spend::accounts::Accounts;
use tollgate::state::Gateway;
use tollgate::store::open::StoreSettings;
use tollgate::store::Store;
use tollgate::telemetry::logs::LogSettings;
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
    let cli = Cli::parse();

    let loaded = match config::load_file(&cli.config) {
        Ok(l) => l,
        Err(errors) => {
            eprintln!("{}: invalid config:\n{errors}", cli.config.display());
            return ExitCode::FAILURE;
        }
    };
    // After the config is read: `json_logs` is in it. Nothing logs before this line.
    LogSettings::new(loaded.config.litellm.json_logs, |name| {
        std::env::var(name).ok()
    })
    .install();
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
    let directory = Arc::new(Directory::default());
    let accounts = Arc::new(Accounts::default());
    let store = if cli.pingora.test {
        None
    } else {
        match open_store(&loaded.config, &directory, &accounts) {
            Ok(store) => Some(store),
            Err(e) if loaded.config.general.store.allow_requests_on_db_unavailable => {
                log::error!(
                    "store unavailable, serving without it (allow_requests_on_db_unavailable): {e}"
                );
                None
            }
            Err(e) => {
                eprintln!("store: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let spend_logs_kept = !loaded.config.general.store.disable_spend_logs;
    let max_pending = loaded.config.general.store.spend_queue_max_rows;
    let gateway = match Gateway::with_store(
        loaded.config,
        upstream,
        store,
        Arc::clone(&directory),
        Arc::clone(&accounts),
    ) {
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
    let max_drain = std::time::Duration::from_secs(
        server_conf
            .grace_period_seconds
            .unwrap_or(DEFAULT_DRAIN_SECS),
    );
    let mut server = Server::new_with_opt_and_conf(opt, server_conf);
    server.bootstrap();
    if let Some(store) = &gateway.store {
        let rows = gateway.spend_rows.lock().ok().and_then(|mut r| r.take());
        server.add_service(pingora::services::background::background_service(
            "store sync",
            StoreSync {
                store: Arc::clone(store),
                directory,
                accounts,
                rows: std::sync::Mutex::new(rows),
                in_flight: Arc::clone(&gateway.in_flight),
                open_requests: Arc::clone(&gateway.open_requests),
                keep_rows: spend_logs_kept,
                max_pending,
                max_drain,
                flushed: Arc::clone(&gateway.spend_flushed),
                flush_failures: gateway.metrics.store_flush_failures.clone(),
                flush_lag: gateway.metrics.spend_flush_lag.clone(),
                pending_rows: gateway.metrics.spend_pending_rows.clone(),
                models_changed: {
                    let gateway = Arc::downgrade(&gateway);
                    Box::new(move || {
                        if let Some(g) = gateway.upgrade() {
                            match g.recompile_models() {
                                Ok(()) => log::info!("stored models changed; snapshot rebuilt"),
                                Err(e) => log::error!("stored models changed, but the snapshot could not be rebuilt: {e}"),
                            }
                        }
                    })
                },
            },
        ));
    }
    if let Some(redis) = &gateway.redis {
        server.add_service(pingora::services::background::background_service(
            "redis keeper",
            tollgate::shared_state::keeper::RedisKeeper {
                redis: Arc::clone(redis),
                gateway: Arc::clone(&gateway),
            },
        ));
    }
    server.add_service(pingora::services::background::background_service(
        "drain notice",
        tollgate::services::drain::DrainNotice {
            gateway: Arc::clone(&gateway),
        },
    ));
    server.add_service(pingora::services::background::background_service(
        "drain watch",
        tollgate::services::drain::DrainWatch {
            gateway: Arc::clone(&gateway),
        },
    ));
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
    if let Some(sink) = &gateway.traces {
        server.add_service(pingora::services::background::background_service(
            "otel trace export",
            tollgate::telemetry::otlp::TraceExporter {
                sink: Arc::clone(sink),
                open_requests: Arc::clone(&gateway.open_requests),
            },
        ));
    }
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

/// Opens the store (PostgreSQL when `database_url` / `DATABASE_URL` is set, else the embedded
/// file at `database_path` / `TOLLGATE_DB_PATH`, default `tollgate.db` in the working
/// directory) and loads every key, user, team, ... into memory before the first request.
fn open_store(
    config: &config::GatewayConfig,
    directory: &Directory,
    accounts: &Accounts,
) -> Result<Arc<dyn Store>, String> {
    let settings = &config.general.store;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let open = StoreSettings {
        database_url: config
            .general
            .database_url
            .as_ref()
            .map(|s| s.expose().to_string())
            .or_else(|| env("DATABASE_URL")),
        database_path: env("TOLLGATE_DB_PATH")
            .or_else(|| settings.database_path.clone())
            .unwrap_or_else(|| "tollgate.db".to_string())
            .into(),
        pool_size: settings.pool_limit,
    };
    // A runtime only for start-up: Pingora's own start with the server. Pooled PostgreSQL
    // connections made here are replaced by the pool once this runtime is gone.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let store = tollgate::store::open::open(&open).await?;
        load(&*store, directory, accounts)
            .await
            .map_err(|e| e.to_string())?;
        log::info!(
            "store: {} with {} keys",
            store.backend(),
            directory.len(tollgate::store::Table::Keys)
        );
        Ok(store)
    })
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
            // The longest drain after SIGTERM / SIGQUIT: calls in flight (long streams) get
            // this long to finish; the process exits as soon as none is left (DrainWatch).
            grace_period_seconds: Some(DEFAULT_DRAIN_SECS),
            graceful_shutdown_timeout_seconds: Some(5),
            ..ServerConf::default()
        }),
    }
}

/// Pingora's own default is 300 s; an edge gateway's calls rarely run past a few minutes.
const DEFAULT_DRAIN_SECS: u64 = 120;

fn listen_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
