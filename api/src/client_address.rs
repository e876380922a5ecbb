//! Who is at the other end of a request: the connection's peer or, when the
//! peer is a proxy the agency trusts (`HOMECARE_TRUSTED_PROXIES`: HAProxy, the
//! site's load balancer), the address that proxy saw, from `X-Forwarded-For`.
//! Sign-in and bearer-token failures are counted per address, so an address a
//! client can choose would let it dodge its throttle or lock out everyone
//! behind the proxy: only trusted proxies' entries are believed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use axum::serve::IncomingStream;
use ipnet::IpNet;

/// The connection's peer, as `serve` records it for every request (plain TCP
/// or TLS).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The proxies whose `X-Forwarded-For` entries are believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated addresses or CIDR blocks (`127.0.0.1,10.0.0.0/8`);
    /// empty: none.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is neither an IP address nor a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. The peer, unless it is a trusted proxy; then,
    /// walking `X-Forwarded-For` from the right (each proxy appends the
    /// address it saw), the first entry that is not a trusted proxy itself.
    /// Entries left of that one are the client's own claims and are ignored.
    /// A trusted chain that ends in a malformed entry, or no header: the peer.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for entry in entries.iter().rev() {
            match entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        // Every hop a trusted proxy: the farthest one is the client.
        entries
            .first()
            .and_then(|entry| entry.parse::<IpAddr>().ok())
            .map_or(peer, |ip| ip.to_canonical())
    }
}

/// The client's address as text (`unknown` when the server was not given the
/// peer, as in handler tests).
pub fn of(extensions: &Extensions, headers: &HeaderMap, trusted: &TrustedProxies) -> String {
    extensions.get::<ConnectInfo<Peer>>().map_or_else(
        || "unknown".to_owned(),
        |info| trusted.client(info.0.0.ip(), headers).to_string(),
    )
}

/// The client's address, for handlers (the state supplies the trusted proxies).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let trusted = TrustedProxies::from_ref(state);
        Ok(Self(of(&parts.extensions, &parts.headers, &trusted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn parses_addresses_and_blocks_and_refuses_anything_else() {
        let trusted = TrustedProxies::parse(" 127.0.0.1, 10.0.0.0/8 ,::1,").unwrap();
        assert!(trusted.trusts(ip("127.0.0.1")) && trusted.trusts(ip("10.9.8.7")));
        assert!(trusted.trusts(ip("::1")) && !trusted.trusts(ip("127.0.0.2")));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        let error = TrustedProxies::parse("10.0.0.0/8,proxy.example").unwrap_err();
        assert!(error.contains("proxy.example"), "{error}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let none = TrustedProxies::default();
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            none.client(ip("198.51.100.4"), &headers),
            ip("198.51.100.4")
        );
        let some = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            some.client(ip("198.51.100.4"), &headers),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_clients_own_claims_are_ignored() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let proxy = ip("10.0.0.1");
        // The client forged an entry; the proxy appended what it saw.
        let headers = forwarded(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(trusted.client(proxy, &headers), ip("203.0.113.9"));
        // Two proxies, two headers: the nearest untrusted entry wins.
        let headers = forwarded(&["garbage, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(trusted.client(proxy, &headers), ip("203.0.113.9"));
        // No header, or the proxy's own entry malformed: the proxy itself.
        assert_eq!(trusted.client(proxy, &HeaderMap::new()), proxy);
        assert_eq!(
            trusted.client(proxy, &forwarded(&["203.0.113.9, nonsense"])),
            proxy
        );
        // Only proxies on the way: the farthest.
        assert_eq!(
            trusted.client(proxy, &forwarded(&["10.2.2.2, 10.3.3.3"])),
            ip("10.2.2.2")
        );
        // An IPv4 peer seen on an IPv6 socket is still that IPv4 address.
        assert_eq!(
            trusted.client(ip("::ffff:10.0.0.1"), &forwarded(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }
}
