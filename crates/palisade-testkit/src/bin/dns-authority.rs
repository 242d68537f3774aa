//! `dns-authority --listen IP:PORT --zone FILE`: the test DNS authority as a process, for
//! benchmarks (bench/sender-auth.sh). Serves until killed.

use palisade_testkit::DnsAuthority;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(listen), Some(zone)) = (arg("--listen"), arg("--zone")) else {
        eprintln!("usage: dns-authority --listen IP:PORT --zone FILE");
        return std::process::ExitCode::from(2);
    };
    let Ok(addr) = listen.parse() else {
        eprintln!("dns-authority: --listen {listen:?} is not IP:PORT");
        return std::process::ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&zone) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dns-authority: {zone}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let dns = match DnsAuthority::bind(addr).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dns-authority: cannot bind {addr}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if let Err(e) = dns.load_zone(&text) {
        eprintln!("dns-authority: {zone}: {e}");
        return std::process::ExitCode::from(2);
    }
    eprintln!("dns-authority: serving {zone} on {addr}");
    std::future::pending::<()>().await;
    std::process::ExitCode::SUCCESS
}
