//! A SOCKS5 client connection (RFC 1928, RFC 1929 user/password); the
//! message encoding is in `proxy.rs`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::{self, Target};

/// Opens a connection to `target:port` through the SOCKS5 proxy at
/// `proxy_host:proxy_port`.
pub async fn connect(
    proxy_host: &str,
    proxy_port: u16,
    auth: Option<&(String, String)>,
    target: &Target,
    port: u16,
) -> Result<TcpStream, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut s = TcpStream::connect((proxy_host, proxy_port))
        .await
        .map_err(|e| {
            format!(
                "cannot connect to the proxy: {}",
                super::upstream::io_text(&e)
            )
        })?;
    s.write_all(&proxy::socks_greeting(auth.is_some()))
        .await
        .map_err(io)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)
        .await
        .map_err(|e| format!("proxy closed during greeting: {e}"))?;
    if choice[0] != 5 {
        return Err("the proxy does not speak SOCKS5".into());
    }
    match (choice[1], auth) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            s.write_all(&proxy::socks_auth(user, pass))
                .await
                .map_err(io)?;
            let mut res = [0u8; 2];
            s.read_exact(&mut res).await.map_err(io)?;
            if res[1] != 0 {
                return Err("the proxy refused the user name or password".into());
            }
        }
        (2, None) => return Err("the proxy wants a user name and password".into()),
        _ => return Err("the proxy accepts none of our authentication methods".into()),
    }
    s.write_all(&proxy::socks_connect(target, port)?)
        .await
        .map_err(io)?;
    let mut first = [0u8; 5];
    s.read_exact(&mut first)
        .await
        .map_err(|e| format!("proxy closed before its reply: {e}"))?;
    if first[1] != 0 {
        return Err(format!(
            "the proxy answered: {}",
            proxy::socks_status(first[1])
        ));
    }
    let mut rest = vec![0u8; proxy::socks_reply_len(&first)? - 5];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(s)
}
