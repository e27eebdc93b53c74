//! `stream-supervisor nodes ...`: the operator's view of the cluster's
//! nodes, and draining one. Talks to Redis, like `channels` and `users`.

use crate::config::NodeCmd;
use crate::store::Store;
use shared::channel_id;

use super::rules::NodeRecord;

pub async fn command(store: &Store, cmd: &NodeCmd) -> Result<(), String> {
    let err = |e: crate::store::StoreError| e.to_string();
    match cmd {
        NodeCmd::List => {
            let nodes = store.nodes().await.map_err(err)?;
            if nodes.is_empty() {
                println!("no live nodes");
            }
            for (id, json) in nodes {
                match serde_json::from_str::<NodeRecord>(&json) {
                    Ok(n) => println!("{}", line(&id, &n)),
                    Err(e) => println!("{id}\tunreadable heartbeat: {e}"),
                }
            }
        }
        NodeCmd::Drain { node } | NodeCmd::Undrain { node } => {
            channel_id::validate(node.as_bytes()).map_err(|e| format!("node id {node:?}: {e}"))?;
            let on = matches!(cmd, NodeCmd::Drain { .. });
            store.set_draining(node, on).await.map_err(err)?;
            println!(
                "node {node} {}",
                if on {
                    "drains: it starts no new channel (at its next heartbeat for the others' placement)"
                } else {
                    "takes new channels again"
                }
            );
        }
    }
    Ok(())
}

/// One node as `nodes list` prints it.
fn line(id: &str, n: &NodeRecord) -> String {
    let drain = if n.draining { "\tdraining" } else { "" };
    format!("{id}\t{}\t{}/{} channels{drain}", n.url, n.load, n.capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_node_shows_its_url_load_and_drain() {
        let mut n = NodeRecord {
            url: "http://127.0.0.1:8081".into(),
            capacity: 100,
            load: 3,
            draining: false,
        };
        assert_eq!(line("n1", &n), "n1\thttp://127.0.0.1:8081\t3/100 channels");
        n.draining = true;
        assert!(line("n1", &n).ends_with("\tdraining"));
    }
}
