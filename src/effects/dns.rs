//! DNS lookups behind `dns::resolve` (hickory-resolver): the records a name has, as a resolver sees them.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct DnsQuery {
    pub name: String,
    /// A, AAAA, CNAME, MX, TXT, NS, CAA...
    pub record_type: String,
    /// Ask this server (`ip:port`) instead of the system's resolvers.
    pub nameserver: Option<String>,
}

pub fn record_type(text: &str) -> Result<RecordType, String> {
    let upper = text.to_ascii_uppercase();
    upper
        .parse::<RecordType>()
        .map_err(|_| format!("`{text}` is not a DNS record type (A, AAAA, CNAME, MX, TXT, NS...)"))
}

/// The records' data as text (`192.0.2.1`, `10 mail.example.com.`, the TXT strings joined). An empty list when
/// the name exists without records of that type or does not exist at all.
pub async fn resolve(query: &DnsQuery, timeout: Duration) -> Result<Vec<String>, String> {
    let kind = record_type(&query.record_type)?;
    let mut builder = match &query.nameserver {
        Some(server) => {
            let addr: SocketAddr =
                server.parse().map_err(|_| format!("nameserver `{server}` is not an address like 127.0.0.1:53"))?;
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            ns.connections = vec![udp, tcp];
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system's DNS settings: {e}"))?,
    };
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 1;
    let resolver = builder.build().map_err(|e| format!("cannot start the DNS resolver: {e}"))?;
    match resolver.lookup(query.name.as_str(), kind).await {
        Ok(lookup) => {
            Ok(lookup.answers().iter().filter(|r| r.record_type() == kind).map(|r| text(&r.data.to_string())).collect())
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(format!("DNS lookup of {} {} failed: {e}", query.record_type, query.name)),
    }
}

/// TXT data prints quoted; scripts compare the text itself.
fn text(data: &str) -> String {
    data.trim_matches('"').to_string()
}
