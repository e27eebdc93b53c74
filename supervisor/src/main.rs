//! `stream-supervisor`: starts ffmpeg for HLS channels when nginx's
//! stream_autostart module asks, over a Unix socket.

use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

use stream_supervisor::config::{Cli, Command};
use stream_supervisor::store::Store;
use stream_supervisor::streams::Streams;
use stream_supervisor::{argv_secrets, ctl, data, disk_space, guide, proxy, reconcile, server};

fn main() -> std::process::ExitCode {
    // The matches too: whether a secret came from argv or the environment.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    stream_supervisor::redact::configure(&cli.redact_query_params);
    match cli.command.clone().unwrap_or(Command::Run) {
        Command::Run => {
            init_logging(&cli);
            for w in argv_secrets::warnings(&matches, &cli) {
                warn!("{w}");
            }
            run(cli)
        }
        cmd @ (Command::Channels { .. }
        | Command::Users { .. }
        | Command::Tokens { .. }
        | Command::Epg { .. }
        | Command::Nodes { .. }) => data::run(&cli, &cmd),
        cmd => ctl::run(&cli, &cmd),
    }
}

fn init_logging(cli: &Cli) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        fmt.json().flatten_event(true).init();
    } else {
        fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

fn run(cli: Cli) -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        match serve(cli).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                error!("{e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

async fn serve(cli: Cli) -> Result<(), String> {
    let mut cli = cli;
    std::fs::create_dir_all(&cli.hls_dir)
        .map_err(|e| format!("cannot create HLS directory {}: {e}", cli.hls_dir.display()))?;
    // One spelling of the directory, so ffmpeg children are recognised by
    // the directory marked in their environment.
    cli.hls_dir = std::fs::canonicalize(&cli.hls_dir)
        .map_err(|e| format!("HLS directory {}: {e}", cli.hls_dir.display()))?;
    if let Ok(free) = disk_space::free_bytes(&cli.hls_dir) {
        if let Some(reason) = disk_space::refusal(&cli.hls_dir, free, cli.min_free_space) {
            warn!("{reason}: no channel starts until there is room");
        }
    }
    if let Some(p) = &cli.proxy {
        proxy::parse(p).map_err(|e| format!("--proxy: {e}"))?;
    }
    let cluster = stream_supervisor::cluster::Cluster::from_cli(&cli)?.map(Arc::new);
    let store = Arc::new(Store::from_cli(&cli)?);
    let failovers = store.follow_failovers();
    let operators = server::operator_policy(&cli)?;
    let cli = Arc::new(cli);
    // Refuse to start beside a live supervisor before touching anything.
    let listener = server::bind(&cli).await?;
    reconcile::reconcile(&cli, &store).await;
    let streams = Streams::new(cli.clone(), store);
    let ctx = Arc::new(server::Ctx::new(&cli, streams.clone(), operators));
    server::log_listening(&cli, &ctx);
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let server = tokio::spawn(server::serve(listener, ctx));
    let guide = tokio::spawn(guide::refresh::run(cli.clone(), streams.clone()));
    let heartbeat = cluster.clone().map(|c| {
        info!(node = %c.node, url = %c.url, capacity = c.capacity, lease_ttl_ms = c.ttl.as_millis() as u64, "cluster node");
        tokio::spawn(stream_supervisor::cluster::heartbeat(c, streams.clone()))
    });
    let sig = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    info!(signal = sig, "shutting down");
    server.abort();
    guide.abort();
    if let Some(f) = failovers {
        f.abort();
    }
    if let Some(h) = heartbeat {
        h.abort();
    }
    streams.stop_all().await;
    if let Some(c) = &cluster {
        // Gone from the registry now rather than after the TTL.
        let _ = streams
            .store()
            .del(&stream_supervisor::store::Keys::node(&c.node))
            .await;
    }
    let _ = std::fs::remove_file(&cli.socket);
    info!("stopped");
    Ok(())
}
