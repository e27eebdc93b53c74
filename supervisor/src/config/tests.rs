use super::*;

#[test]
fn modes_and_groups() {
    assert_eq!(parse_mode("660"), Ok(0o660));
    assert_eq!(parse_mode("0o600"), Ok(0o600));
    assert!(parse_mode("999").is_err());
    let g = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n";
    assert_eq!(group_id(g, "www-data"), Some(33));
    assert_eq!(group_id(g, "nobody"), None);
}

#[test]
fn defaults() {
    let cli = Cli::parse_from(["stream-supervisor"]);
    assert_eq!(cli.idle_timeout, Duration::from_secs(300));
    assert_eq!(cli.segment_duration, Duration::from_secs(4));
    assert_eq!(cli.first_segment_duration, Duration::from_millis(200));
    assert_eq!(cli.socket, PathBuf::from(DEFAULT_SOCKET));
    let cli = Cli::parse_from(["stream-supervisor", "--idle-timeout", "1m30s"]);
    assert_eq!(cli.idle_timeout, Duration::from_secs(90));
    assert!(Cli::try_parse_from(["stream-supervisor", "--idle-timeout", "soon"]).is_err());
    assert_eq!(cli.stall_timeout(), Duration::from_secs(12));
    let cli = Cli::parse_from(["stream-supervisor", "--segment-duration", "1s"]);
    assert_eq!(cli.stall_timeout(), Duration::from_secs(6));
}

#[test]
fn source_schemes() {
    assert_eq!(
        parse_schemes("http, HTTPS,http").unwrap().0,
        ["http", "https"]
    );
    assert!(parse_schemes("http,file").unwrap_err().contains("\"file\""));
    assert!(parse_schemes("pipe").is_err());
    assert!(parse_schemes(" , ").is_err());
    let cli = Cli::parse_from(["stream-supervisor"]);
    assert_eq!(cli.source_schemes.0, ["http", "https"]);
}

#[test]
fn request_defaults() {
    let cli = Cli::parse_from([
        "stream-supervisor",
        "--header",
        "X-A: 1",
        "--header",
        "X-B:two words",
        "--reconnect",
        "false",
    ]);
    assert_eq!(
        cli.headers,
        [
            ("X-A".to_string(), "1".to_string()),
            ("X-B".to_string(), "two words".to_string())
        ]
    );
    assert!(!cli.reconnect);
    assert!(Cli::try_parse_from(["stream-supervisor", "--header", "nocolon"]).is_err());
    assert!(Cli::try_parse_from(["stream-supervisor", "--header", "Host: x"]).is_err());
    assert!(Cli::parse_from(["stream-supervisor"]).reconnect);
    assert!(Cli::try_parse_from(["stream-supervisor", "--referer", "a\r\nX: y"]).is_err());
}

#[test]
fn user_commands() {
    assert_eq!(parse_conn_limit("2"), Ok(ConnLimit(Some(2))));
    assert_eq!(parse_conn_limit("unlimited"), Ok(ConnLimit(None)));
    assert!(parse_conn_limit("0").is_err());
    assert!(parse_conn_limit("-1").is_err());
    let cli = Cli::parse_from([
        "s",
        "users",
        "add",
        "alice",
        "--password",
        "--max-connections",
        "2",
    ]);
    assert!(matches!(
        cli.command,
        Some(Command::Users {
            cmd: UserCmd::Add {
                password: PasswordSource { password: true, .. },
                max_connections: Some(ConnLimit(Some(2))),
                ..
            }
        })
    ));
    // A password is never taken from argv.
    assert!(Cli::try_parse_from(["s", "users", "add", "alice", "--password", "hunter2"]).is_err());
    assert!(Cli::try_parse_from(["s", "users", "add", "alice", "--password=hunter2"]).is_err());
    assert!(Cli::try_parse_from(["s", "users", "passwd", "alice", "hunter2"]).is_err());
    let cli = Cli::parse_from([
        "s",
        "--session-idle",
        "2s",
        "--connection-limit-policy",
        "end-oldest",
    ]);
    assert_eq!(cli.session_idle, Duration::from_secs(2));
    assert!(Cli::try_parse_from(["s", "--connection-limit-policy", "kick"]).is_err());
    let cli = Cli::parse_from(["s", "sessions", "--user", "bob"]);
    assert!(matches!(
        cli.command,
        Some(Command::Sessions {
            user: Some(_),
            cmd: None,
            ..
        })
    ));
    let cli = Cli::parse_from(["s", "sessions", "end", "bob", "--channel", "7"]);
    assert!(matches!(
        cli.command,
        Some(Command::Sessions {
            cmd: Some(SessionCmd::End {
                channel: Some(_),
                client: None,
                ..
            }),
            ..
        })
    ));
}

#[test]
fn metrics_flag() {
    assert!(Cli::parse_from(["s"]).metrics_per_channel);
    assert!(!Cli::parse_from(["s", "--metrics-per-channel", "off"]).metrics_per_channel);
    assert!(Cli::try_parse_from(["s", "--metrics-per-channel", "no"]).is_err());
    let cli = Cli::parse_from(["s", "metrics"]);
    assert!(matches!(cli.command, Some(Command::Metrics { .. })));
}

#[test]
fn operator_commands() {
    let cli = Cli::parse_from(["stream-supervisor", "status", "--json"]);
    assert!(matches!(
        cli.command,
        Some(Command::Status {
            channel: None,
            out: Output { json: true }
        })
    ));
    let cli = Cli::parse_from(["stream-supervisor", "--socket", "/tmp/s", "restart", "7"]);
    assert!(matches!(cli.command, Some(Command::Restart { ref channel, .. }) if channel == "7"));
    assert!(Cli::try_parse_from(["stream-supervisor", "stop"]).is_err());
}
