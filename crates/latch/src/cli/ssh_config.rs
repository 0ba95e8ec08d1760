//! `latch ssh-config` and `latch ssh-proxy`: make a plain `ssh root@db01` go through the gateway.
//!
//! OpenSSH sends only the user name to the server, never the host name, and a user name on the command line wins
//! over ssh_config's `User`. So the generated block runs `latch ssh-proxy` as the `ProxyCommand`: it connects to the
//! gateway, sends one route-hint line naming the Latch user and the target (`LATCH-ROUTE 1 alice db01`) and then
//! relays the SSH bytes untouched. The gateway then reads the SSH user name as the account. The hint only names;
//! the person still authenticates with their key or password.

use super::{connection, show};
use crate::UsageError;
use anyhow::Context;
use latch_domain::gateway_login::RouteHint;
use latch_domain::names::{TargetName, Username};
use std::process::ExitCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The host-name suffix that sends any target through the gateway (`ssh root@db01.latch`).
const SUFFIX: &str = ".latch";
const DEFAULT_SSH_PORT: u16 = 2222;

/// `latch ssh-config`
#[derive(clap::Args, Debug)]
pub struct SshConfigArgs {
    /// The gateway as HOST:PORT; defaults to the server's host and port 2222.
    #[arg(long, value_name = "HOST:PORT")]
    gateway: Option<String>,
    /// Targets that get a block of their own, so that `ssh root@TARGET` works without the suffix.
    targets: Vec<String>,
}

/// `latch ssh-proxy` (run by ssh as the ProxyCommand)
#[derive(clap::Args, Debug)]
pub struct SshProxyArgs {
    /// The gateway as HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    gateway: String,
    /// The Latch user to log in as.
    #[arg(long, value_name = "USER")]
    user: String,
    /// The target (a trailing `.latch` is removed).
    target: String,
}

pub async fn ssh_config(args: SshConfigArgs) -> anyhow::Result<ExitCode> {
    let settings = connection::settings()?;
    let client = connection::authenticated()?;
    let me = client.me().await.context("cannot find out who you are")?;
    let gateway = match args.gateway {
        Some(gateway) => gateway,
        None => {
            let server = settings.server.ok_or_else(|| UsageError("log in first, or pass --gateway".to_owned()))?;
            format!("{}:{DEFAULT_SSH_PORT}", host_of(&server)?)
        }
    };
    for target in &args.targets {
        TargetName::parse(target).map_err(|err| UsageError(err.to_string()))?;
    }
    let latch = std::env::current_exe().context("cannot find the latch binary's path")?;
    show::line(&config_block(&latch.display().to_string(), &gateway, &me.user.username, &args.targets))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn ssh_proxy(args: SshProxyArgs) -> anyhow::Result<ExitCode> {
    let target = args.target.strip_suffix(SUFFIX).unwrap_or(&args.target);
    let hint = RouteHint {
        user: Username::parse(&args.user).map_err(|err| UsageError(err.to_string()))?,
        target: TargetName::parse(target).map_err(|err| UsageError(err.to_string()))?,
    };
    let mut gateway =
        TcpStream::connect(&args.gateway).await.with_context(|| format!("cannot connect to {}", args.gateway))?;
    gateway.set_nodelay(true).context("cannot set TCP_NODELAY")?;
    gateway.write_all(hint.line().as_bytes()).await.context("cannot send the route hint")?;
    let (mut from_gateway, mut to_gateway) = gateway.into_split();
    let upload = tokio::spawn(async move {
        let copied = tokio::io::copy(&mut tokio::io::stdin(), &mut to_gateway).await;
        let _ = to_gateway.shutdown().await;
        copied
    });
    // The session is over when the gateway closes; ssh may keep our stdin open until then.
    let mut stdout = tokio::io::stdout();
    let downloaded = tokio::io::copy(&mut from_gateway, &mut stdout).await;
    let _ = stdout.flush().await;
    upload.abort();
    downloaded.context("relaying from the gateway")?;
    Ok(ExitCode::SUCCESS)
}

fn config_block(latch: &str, gateway: &str, user: &str, targets: &[String]) -> String {
    let proxy = format!("ProxyCommand \"{latch}\" ssh-proxy --gateway {gateway} --user {user} %h");
    let mut block = format!(
        "# Latch SSH gateway at {gateway} as Latch user {user} (written by `latch ssh-config`).\n\
         # `ssh ACCOUNT@TARGET{SUFFIX}` logs in to ACCOUNT on TARGET through the gateway.\n\
         Host *{SUFFIX}\n    {proxy}\n    HostKeyAlias latch-gateway\n"
    );
    if !targets.is_empty() {
        block.push_str(&format!("Host {}\n    {proxy}\n    HostKeyAlias latch-gateway\n", targets.join(" ")));
    }
    block
}

/// The host of an `https://host:port/…` URL.
fn host_of(url: &str) -> Result<String, UsageError> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().map(|h| format!("[{h}]")),
        None => authority.split(':').next().map(str::to_owned),
    };
    host.filter(|h| !h.is_empty()).ok_or_else(|| UsageError(format!("cannot find the host in {url}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_hosts() {
        let block = config_block("/usr/bin/latch", "gw:2222", "alice", &["db01".to_owned(), "web01".to_owned()]);
        assert!(block.contains("Host *.latch\n"));
        assert!(block.contains("Host db01 web01\n"));
        assert!(block.contains("ProxyCommand \"/usr/bin/latch\" ssh-proxy --gateway gw:2222 --user alice %h"));
        assert_eq!(host_of("https://localhost:8443").unwrap(), "localhost");
        assert_eq!(host_of("https://[::1]:8443/x").unwrap(), "[::1]");
        assert_eq!(host_of("https://latch.example").unwrap(), "latch.example");
    }
}
