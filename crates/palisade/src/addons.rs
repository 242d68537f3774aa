//! The web console, ACME's HTTP-01 answers and the periodic doctor, wired to a running
//! server ([`palisade_server::Addons`]).

use crate::console_views::{LiveDoctor, StoreQuarantine};
use palisade_access::login::{Attempt, Door, Refused};
use palisade_server::acme::AcmeChallenges;
use palisade_server::{Shared, Task};
use palisade_types::Address;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything the binary adds.
pub struct Addons;

/// The addons as the server takes them.
pub fn all() -> Arc<dyn palisade_server::Addons> {
    Arc::new(Addons)
}

impl palisade_server::Addons for Addons {
    fn web(
        &self,
        shared: Arc<Shared>,
        socket: TcpListener,
        acme: Option<Arc<AcmeChallenges>>,
        stop: watch::Receiver<bool>,
    ) -> Task {
        let state = Arc::new(palisade_web::WebState {
            config: {
                let s = shared.clone();
                Arc::new(move || s.config())
            },
            store: shared.store.clone(),
            logins: Arc::new(WebLogins(shared.clone())),
            quarantine: Arc::new(StoreQuarantine(shared.clone())),
            doctor: Arc::new(LiveDoctor(shared.clone())),
            queue_dir: palisade_server::queue_dir(&shared.data_dir),
            ceremonies: Default::default(),
        });
        let tls: palisade_web::TlsSource = {
            let s = shared.clone();
            Arc::new(move || s.tls.config())
        };
        let answers = acme.map(|a| Arc::new(Answers(a)) as Arc<dyn palisade_web::acme::Answers>);
        let store = shared.store.clone();
        Box::pin(async move {
            tokio::select! {
                () = palisade_web::serve(socket, tls, answers, state, stop) => {}
                () = prune_sessions(store) => {}
            }
        })
    }

    fn acme_http(
        &self,
        socket: TcpListener,
        acme: Arc<AcmeChallenges>,
        stop: watch::Receiver<bool>,
    ) -> Task {
        Box::pin(palisade_web::acme::serve_http01(
            socket,
            Arc::new(Answers(acme)),
            stop,
        ))
    }

    fn doctor(&self, shared: Arc<Shared>) -> Task {
        Box::pin(crate::doctor::every_interval(shared))
    }
}

/// The server's ACME answers, served by the console's listeners.
struct Answers(Arc<AcmeChallenges>);

impl palisade_web::acme::Answers for Answers {
    fn alpn(&self, name: &str) -> Option<Arc<rustls::ServerConfig>> {
        self.0.alpn(name)
    }

    fn http(&self, token: &str) -> Option<String> {
        self.0.http(token)
    }
}

/// Console sessions that have ended (idle or too old) go, once a minute.
async fn prune_sessions(store: Arc<dyn palisade_store::Store>) {
    use palisade_web::console::session::{ABSOLUTE, IDLE};
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let now = palisade_queue::now_secs();
        if let Err(e) = store.prune_web_sessions(now - IDLE, now - ABSOLUTE).await {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot prune console sessions"
            );
        }
    }
}

/// The web console's logins: the server's one login decision, through the console's
/// door.
struct WebLogins(Arc<Shared>);

#[async_trait::async_trait]
impl palisade_web::console::Logins for WebLogins {
    async fn login(&self, a: palisade_web::console::WebAttempt<'_>) -> Result<Address, Refused> {
        let cfg = self.0.config();
        let attempt = Attempt {
            username: a.username,
            password: a.password,
            ip: a.ip,
            door: Door::Web { code: a.code },
            now: palisade_queue::now_secs(),
        };
        palisade_server::logins::decide(&self.0, &cfg, attempt).await
    }

    fn banned(&self, ip: std::net::IpAddr) -> bool {
        self.0.bans.banned(ip, palisade_queue::now_secs())
    }
}
