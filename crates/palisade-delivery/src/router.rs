//! The delivery target: local domains go to Maildirs, everything else to other servers.

use crate::LocalDelivery;
use crate::remote::RemoteDelivery;
use palisade_queue::{Outcome, SpooledMessage, Target};
use palisade_types::Address;
use std::collections::BTreeMap;

pub struct Router {
    pub local: LocalDelivery,
    pub remote: RemoteDelivery,
}

#[async_trait::async_trait]
impl Target for Router {
    async fn deliver(
        &self,
        msg: &SpooledMessage,
        rcpts: &[Address],
        recovering: bool,
    ) -> Vec<Outcome> {
        let mut local = Vec::new();
        let mut remote: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rcpts.len()];
        for (i, r) in rcpts.iter().enumerate() {
            match self
                .local
                .lookups
                .is_local_domain(self.local.store.as_ref(), r.domain())
                .await
            {
                Ok(true) => local.push(i),
                Ok(false) => remote.entry(r.domain().to_string()).or_default().push(i),
                Err(e) => outcomes[i] = Some(Outcome::Transient(format!("451 4.3.0 store: {e}"))),
            }
        }
        if !local.is_empty() {
            let these: Vec<Address> = local.iter().map(|&i| rcpts[i].clone()).collect();
            let got = self.local.deliver(msg, &these, recovering).await;
            for (&i, o) in local.iter().zip(got) {
                outcomes[i] = Some(o);
            }
        }
        if !remote.is_empty() {
            let m = msg.clone();
            let message = match tokio::task::spawn_blocking(move || m.read_message()).await {
                Ok(Ok(bytes)) => bytes,
                failed => {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        Err(e) => e.to_string(),
                        Ok(Ok(_)) => String::new(),
                    };
                    for idx in remote.values().flatten() {
                        outcomes[*idx] =
                            Some(Outcome::Transient(format!("451 4.3.0 spool read: {why}")));
                    }
                    return finish(outcomes);
                }
            };
            for (domain, idx) in &remote {
                let these: Vec<Address> = idx.iter().map(|&i| rcpts[i].clone()).collect();
                let got = self
                    .remote
                    .deliver_domain(msg, &message, domain, &these)
                    .await;
                for (&i, o) in idx.iter().zip(got) {
                    outcomes[i] = Some(o);
                }
            }
        }
        finish(outcomes)
    }
}

fn finish(outcomes: Vec<Option<Outcome>>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Transient("451 4.3.0 not attempted".into())))
        .collect()
}
