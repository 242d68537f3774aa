//! The delivery target: local domains go to Maildirs, everything else to other servers.

use crate::end_to_end::{self, EndToEnd, Plan};
use crate::remote::RemoteDelivery;
use crate::route::{Callouts, Verified};
use crate::{LocalDelivery, read_message};
use palisade_config::Config;
use palisade_crypt::policy::OutboundPolicy;
use palisade_queue::{Outcome, SpooledMessage, Target};
use palisade_types::Address;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hands out the current configuration (it changes on reload).
pub type ConfigSource = Arc<dyn Fn() -> Arc<Config> + Send + Sync>;

pub struct Router {
    pub local: LocalDelivery,
    pub remote: RemoteDelivery,
    /// Outbound encryption of submitted mail to other servers (local recipients are
    /// sealed by [`LocalDelivery`]).
    pub end_to_end: Option<EndToEnd>,
    /// For `[route]`: routed domains go to their own server.
    pub config: ConfigSource,
    /// Recipient callouts to routed domains' servers (asked at RCPT by the server).
    pub callouts: Callouts,
}

impl Router {
    /// Whether `rcpt` exists at its routed domain's server; `None` when the domain is
    /// not routed or its route does not verify recipients.
    pub async fn verify_routed(&self, rcpt: &Address) -> Option<Verified> {
        let cfg = (self.config)();
        let route = cfg.routes.get(rcpt.domain().as_str())?;
        if !route.verify_recipients {
            return None;
        }
        Some(self.callouts.verify(&self.remote, route, rcpt).await)
    }
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
        let mut routed: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut remote: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rcpts.len()];
        let cfg = (self.config)();
        for (i, r) in rcpts.iter().enumerate() {
            let domain = r.domain().to_string();
            match self
                .local
                .lookups
                .is_local_domain(self.local.store.as_ref(), r.domain())
                .await
            {
                Ok(true) => local.push(i),
                Ok(false) if cfg.routes.contains_key(&domain) => {
                    routed.entry(domain).or_default().push(i)
                }
                Ok(false) => remote.entry(domain).or_default().push(i),
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
        if !routed.is_empty() {
            self.deliver_routed(&cfg, msg, rcpts, &routed, &mut outcomes)
                .await;
        }
        if !remote.is_empty() {
            let message = match read_message(msg).await {
                Ok(bytes) => bytes,
                Err(o) => {
                    for idx in remote.values().flatten() {
                        outcomes[*idx] = Some(o.clone());
                    }
                    return finish(outcomes);
                }
            };
            let policy = match &self.end_to_end {
                Some(e2e) => match end_to_end::policy_of(e2e.store.as_ref(), msg).await {
                    Ok(p) => p,
                    Err(o) => {
                        for idx in remote.values().flatten() {
                            outcomes[*idx] = Some(o.clone());
                        }
                        return finish(outcomes);
                    }
                },
                None => OutboundPolicy::Never,
            };
            for (domain, idx) in &remote {
                let mut as_is = Vec::with_capacity(idx.len());
                if let (Some(e2e), true) = (&self.end_to_end, policy != OutboundPolicy::Never) {
                    let dns = (self.remote.dns)();
                    for &i in idx {
                        match e2e.plan(&dns, policy, &message, &rcpts[i]).await {
                            Plan::AsIs => as_is.push(i),
                            Plan::Refused(o) => outcomes[i] = Some(o),
                            Plan::Encrypted(copy) => {
                                let one = std::slice::from_ref(&rcpts[i]);
                                let got = self.remote.deliver_domain(msg, &copy, domain, one).await;
                                outcomes[i] = got.into_iter().next();
                            }
                        }
                    }
                } else {
                    as_is.extend_from_slice(idx);
                }
                if as_is.is_empty() {
                    continue;
                }
                let these: Vec<Address> = as_is.iter().map(|&i| rcpts[i].clone()).collect();
                let got = self
                    .remote
                    .deliver_domain(msg, &message, domain, &these)
                    .await;
                for (&i, o) in as_is.iter().zip(got) {
                    outcomes[i] = Some(o);
                }
            }
        }
        finish(outcomes)
    }
}

impl Router {
    /// Routed domains' recipients, one transaction per domain to its next hop.
    async fn deliver_routed(
        &self,
        cfg: &Config,
        msg: &SpooledMessage,
        rcpts: &[Address],
        routed: &BTreeMap<String, Vec<usize>>,
        outcomes: &mut [Option<Outcome>],
    ) {
        let message = match read_message(msg).await {
            Ok(bytes) => bytes,
            Err(o) => {
                for i in routed.values().flatten() {
                    outcomes[*i] = Some(o.clone());
                }
                return;
            }
        };
        for (domain, idx) in routed {
            let Some(route) = cfg.routes.get(domain) else {
                continue;
            };
            let these: Vec<Address> = idx.iter().map(|&i| rcpts[i].clone()).collect();
            let got = crate::route::deliver(&self.remote, route, msg, &message, &these).await;
            for (&i, o) in idx.iter().zip(got) {
                outcomes[i] = Some(o);
            }
        }
    }
}

fn finish(outcomes: Vec<Option<Outcome>>) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Transient("451 4.3.0 not attempted".into())))
        .collect()
}
