//! tollgate-bare-proxy: the load test's bare Pingora baseline. A `ProxyHttp` whose only logic is
//! "every request goes to one upstream" (plain HTTP/1, Pingora's default upstream keepalive pool),
//! so `loadtest/run.sh` can show what Pingora itself costs per request, apart from Tollgate's own
//! work (auth, parsing, routing, translation, accounting).
//!
//! `tollgate-bare-proxy --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT -c pingora.yaml`

use async_trait::async_trait;
use clap::Parser;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::Opt;
use pingora::server::Server;
use pingora::upstreams::peer::HttpPeer;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "tollgate-bare-proxy",
    about = "A bare Pingora proxy to one upstream (load-test baseline)"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The one upstream every request is proxied to (plain HTTP/1).
    #[arg(long)]
    upstream: SocketAddr,
    #[command(flatten)]
    pingora: Opt,
}

struct BareProxy {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for BareProxy {
    type CTX = ();
    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        // A parsed SocketAddr: HttpPeer::new's address resolution cannot fail.
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let mut server = match Server::new(Some(cli.pingora)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("invalid server conf: {e}");
            return ExitCode::FAILURE;
        }
    };
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        BareProxy {
            upstream: cli.upstream,
        },
        "bare-proxy",
    );
    proxy.add_tcp(&cli.listen.to_string());
    server.add_service(proxy);
    log::info!("bare proxy listening on {} -> {}", cli.listen, cli.upstream);
    server.run_forever()
}
