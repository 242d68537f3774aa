use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

#[derive(Default)]
struct Zones {
    records: HashMap<(LowerName, RecordType), Vec<RData>>,
    /// Every name that has some record: NODATA instead of NXDOMAIN for other types.
    names: HashSet<LowerName>,
    /// Queries at or below these names are dropped (the client times out).
    silent: Vec<LowerName>,
    /// Queries for these exact names are dropped when they have no records of the type.
    timeout_when_empty: HashSet<LowerName>,
    cnames: HashMap<LowerName, Name>,
    authentic: bool,
    queries: u64,
}

/// A loopback DNS server for tests. Dropping it stops answering.
pub struct DnsAuthority {
    addr: SocketAddr,
    zones: Arc<Mutex<Zones>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DnsAuthority {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn name(n: &str) -> LowerName {
    let fqdn = if n.ends_with('.') {
        n.to_string()
    } else {
        format!("{n}.")
    };
    // Test zones may hold odd but legal labels ("foo:bar"): fall back to raw labels.
    let parsed = Name::from_str(&fqdn).or_else(|_| {
        Name::from_labels(n.trim_end_matches('.').split('.').map(str::as_bytes)).map(|mut x| {
            x.set_fqdn(true);
            x
        })
    });
    match parsed {
        Ok(n) => LowerName::new(&n),
        Err(e) => panic!("test zone name {n:?}: {e}"),
    }
}

impl DnsAuthority {
    /// Binds UDP and TCP on `addr` (a fixed port, for benchmarks) and starts answering.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<DnsAuthority> {
        let zones = Arc::new(Mutex::new(Zones::default()));
        let udp = UdpSocket::bind(addr).await?;
        let tcp = TcpListener::bind(addr).await?;
        let tasks = vec![
            tokio::spawn(serve_udp(udp, zones.clone())),
            tokio::spawn(serve_tcp(tcp, zones.clone())),
        ];
        Ok(DnsAuthority { addr, zones, tasks })
    }

    /// Loads `name TYPE value` lines (TXT, A, AAAA, MX "pref host"); `#` starts a comment.
    pub fn load_zone(&self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, char::is_whitespace);
            let (Some(name), Some(rtype), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("line {}: expected NAME TYPE VALUE", n + 1));
            };
            let value = value.trim();
            let bad = |what: &str| format!("line {}: bad {what}: {value}", n + 1);
            match rtype.to_ascii_uppercase().as_str() {
                "TXT" => {
                    self.txt(name, value.trim_matches('"'));
                }
                "A" => {
                    self.a(name, value.parse().map_err(|_| bad("IPv4 address"))?);
                }
                "AAAA" => {
                    self.aaaa(name, value.parse().map_err(|_| bad("IPv6 address"))?);
                }
                "MX" => {
                    let (pref, host) = value.split_once(' ').ok_or_else(|| bad("MX"))?;
                    self.mx(
                        name,
                        pref.parse().map_err(|_| bad("MX preference"))?,
                        host.trim(),
                    );
                }
                other => return Err(format!("line {}: unsupported type {other}", n + 1)),
            }
        }
        Ok(())
    }

    /// Binds UDP and TCP on the same free loopback port and starts answering.
    pub async fn start() -> DnsAuthority {
        let zones = Arc::new(Mutex::new(Zones::default()));
        for _ in 0..50 {
            let Ok(udp) = UdpSocket::bind("127.0.0.1:0").await else {
                continue;
            };
            let Ok(addr) = udp.local_addr() else { continue };
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            let tasks = vec![
                tokio::spawn(serve_udp(udp, zones.clone())),
                tokio::spawn(serve_tcp(tcp, zones.clone())),
            ];
            return DnsAuthority { addr, zones, tasks };
        }
        panic!("no free loopback port for the test DNS authority");
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn zones(&self) -> std::sync::MutexGuard<'_, Zones> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any record (for suites that bring their own record data).
    pub fn record(&self, n: &str, rdata: RData) -> &Self {
        self.add(n, rdata)
    }

    /// `n` is an alias of `target`; answers carry the CNAME and the target's records.
    pub fn cname(&self, n: &str, target: &str) -> &Self {
        let key = name(n);
        let mut z = self.zones();
        z.names.insert(key.clone());
        z.cnames.insert(key, name(target).into());
        self
    }

    /// Queries for `n` time out unless `n` has records of the type asked for (the
    /// RFC 7208 test suite's `TIMEOUT`).
    pub fn timeout_when_empty(&self, n: &str) -> &Self {
        let key = name(n);
        let mut z = self.zones();
        z.names.insert(key.clone());
        z.timeout_when_empty.insert(key);
        self
    }

    fn add(&self, n: &str, rdata: RData) -> &Self {
        let key = name(n);
        let mut z = self.zones();
        z.names.insert(key.clone());
        z.records
            .entry((key, rdata.record_type()))
            .or_default()
            .push(rdata);
        self
    }

    /// A TXT record; long text is split into 255-octet strings (RFC 7208 §3.3).
    pub fn txt(&self, n: &str, text: &str) -> &Self {
        let parts = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.add(n, RData::TXT(TXT::new(parts)))
    }

    pub fn a(&self, n: &str, ip: Ipv4Addr) -> &Self {
        self.add(n, RData::A(A(ip)))
    }

    pub fn aaaa(&self, n: &str, ip: Ipv6Addr) -> &Self {
        self.add(n, RData::AAAA(AAAA(ip)))
    }

    pub fn mx(&self, n: &str, preference: u16, exchange: &str) -> &Self {
        self.add(n, RData::MX(MX::new(preference, name(exchange).into())))
    }

    /// A PTR for `ip` (in-addr.arpa / ip6.arpa) pointing at `target`.
    pub fn ptr(&self, ip: IpAddr, target: &str) -> &Self {
        let n: Name = ip.into();
        self.add(&n.to_string(), RData::PTR(PTR(name(target).into())))
    }

    /// Never answer queries for `n` or any name below it.
    pub fn silent(&self, n: &str) -> &Self {
        self.zones().silent.push(name(n));
        self
    }

    /// Set the AD bit on every answer.
    pub fn set_authentic(&self, on: bool) {
        self.zones().authentic = on;
    }

    /// Queries answered or dropped so far.
    pub fn queries(&self) -> u64 {
        self.zones().queries
    }
}

/// An SOA for negative answers (RFC 2308 §3), so resolvers cache NXDOMAIN and NODATA
/// as real authorities make them: the owner is the name's top-level label.
fn soa_for(owner: &Name) -> Record {
    let apex = owner.trim_to(1);
    let soa =
        hickory_proto::rr::rdata::SOA::new(apex.clone(), apex.clone(), 1, 3600, 600, 86400, 300);
    Record::from_rdata(apex, 300, RData::SOA(soa))
}

/// The answer to one wire query, or `None` to stay silent.
fn answer(zones: &Mutex<Zones>, query: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    let mut z = zones.lock().unwrap_or_else(|e| e.into_inner());
    z.queries += 1;
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.authoritative = true;
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authentic_data = z.authentic;
    resp.edns = req.edns.clone();
    let Some(q) = req.queries.first() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp.to_vec().ok();
    };
    resp.add_query(q.clone());
    let mut qname = LowerName::new(q.name());
    let mut owner = q.name().clone();
    if z.silent.iter().any(|s| s.zone_of(&qname)) {
        return None;
    }
    // Follow CNAMEs inside our zones (bounded), as a recursive resolver would answer.
    for _ in 0..8 {
        let Some(target) = z.cnames.get(&qname).cloned() else {
            break;
        };
        if q.query_type() == hickory_proto::rr::RecordType::CNAME {
            break;
        }
        resp.add_answer(Record::from_rdata(
            owner.clone(),
            300,
            RData::CNAME(hickory_proto::rr::rdata::CNAME(target.clone())),
        ));
        qname = LowerName::new(&target);
        owner = target;
    }
    match z.records.get(&(qname.clone(), q.query_type())) {
        Some(rdatas) => {
            for r in rdatas {
                resp.add_answer(Record::from_rdata(owner.clone(), 300, r.clone()));
            }
        }
        None if z.timeout_when_empty.contains(&qname) => return None,
        None if z.names.contains(&qname) => {
            resp.add_authority(soa_for(&owner));
        }
        None if !resp.answers.is_empty() => {}
        None => {
            resp.metadata.response_code = ResponseCode::NXDomain;
            resp.add_authority(soa_for(&owner));
        }
    }
    resp.to_vec().ok()
}

async fn serve_udp(sock: UdpSocket, zones: Arc<Mutex<Zones>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Some(mut out) = answer(&zones, &buf[..n]) else {
            continue;
        };
        let limit = Message::from_vec(&buf[..n])
            .ok()
            .and_then(|m| m.edns.map(|e| e.max_payload() as usize))
            .unwrap_or(512)
            .max(512);
        if out.len() > limit {
            // Too big for UDP: send the header with TC set; the client retries over TCP.
            if let Ok(m) = Message::from_vec(&out)
                && let Ok(t) = m.truncate().to_vec()
            {
                out = t;
            }
        }
        let _ = sock.send_to(&out, peer).await;
    }
}

async fn serve_tcp(listener: TcpListener, zones: Arc<Mutex<Zones>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(tcp_conn(stream, zones.clone()));
    }
}

async fn tcp_conn(mut stream: TcpStream, zones: Arc<Mutex<Zones>>) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut buf = vec![0u8; len as usize];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Some(out) = answer(&zones, &buf) else {
            continue;
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&out).await.is_err() {
            return;
        }
    }
}
