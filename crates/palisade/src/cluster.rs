//! `palisade cluster status`: the nodes sharing the store, as their heartbeats tell.

use palisade_store::NodeStatus;
use serde_json::json;

use crate::commands::Paths;

/// A node silent for longer than this (three heartbeats) is shown as such.
const SILENT_AFTER: i64 = 30;

pub async fn status(paths: &Paths, as_json: bool) -> anyhow::Result<()> {
    let nodes = paths.store().await?.nodes().await?;
    let now = palisade_queue::now_secs();
    if as_json {
        let list: Vec<_> = nodes.iter().map(|n| node_json(n, now)).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if nodes.is_empty() {
        println!("no node has reported to this store yet");
        return Ok(());
    }
    println!(
        "{:<24} {:<10} {:<22} {:>9}",
        "NODE", "VERSION", "LAST HEARTBEAT", "RETRYING"
    );
    for n in &nodes {
        let state = if silent(n, now) { " (silent)" } else { "" };
        let seen = format!("{}s ago{state}", now - n.heartbeat);
        println!(
            "{:<24} {:<10} {:<22} {:>9}",
            n.node, n.version, seen, n.retrying
        );
    }
    Ok(())
}

fn silent(n: &NodeStatus, now: i64) -> bool {
    now - n.heartbeat > SILENT_AFTER
}

fn node_json(n: &NodeStatus, now: i64) -> serde_json::Value {
    json!({
        "node": n.node,
        "version": n.version,
        "started": n.started,
        "heartbeat": n.heartbeat,
        "retrying": n.retrying,
        "silent": silent(n, now),
    })
}
