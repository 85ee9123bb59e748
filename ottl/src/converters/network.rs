//! Network converters: IsInCIDR, CommunityID.

use super::{arg, str_value, Built};
use crate::compile::{CompiledArg, Context, Expr, Function};
use crate::error::EvalError;
use crate::funcs::{bind, int_arg, string_arg};
use crate::value::Value;
use base64::Engine;
use sha1::Digest;
use std::net::IpAddr;

/// A network in CIDR notation, its address masked (Go's `net.ParseCIDR`).
#[derive(Clone, Copy)]
struct Cidr {
    addr: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let digits_ok = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|&p| digits_ok && p <= bits)
            .ok_or_else(bad)?;
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the network; an IPv4-mapped IPv6 address counts as IPv4, as in Go.
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - self.prefix;
        shift >= 128 || net >> shift == ip >> shift
    }
}

/// `IsInCIDR(target, networks[])`: literal networks are parsed here, others at each call.
struct IsInCidr<C: Context> {
    target: Expr<C>,
    networks: Result<Vec<Cidr>, Expr<C>>,
}

pub fn is_in_cidr<C: Context>(args: Vec<CompiledArg<C>>) -> Built<C> {
    let [target, networks] = bind::<C, 2>("IsInCIDR", args, &["target", "networks"])?;
    let literal = match &networks {
        Expr::List(items) => items
            .iter()
            .map(|i| match i.literal() {
                Some(Value::Str(s)) => Some(Cidr::parse(s)),
                _ => None,
            })
            .collect::<Option<Result<Vec<_>, _>>>(),
        Expr::Literal(Value::Nil) => return Err("networks cannot be nil".into()),
        _ => None,
    };
    let networks = match literal {
        Some(parsed) => Ok(parsed?),
        None => Err(networks),
    };
    Ok(Box::new(IsInCidr { target, networks }))
}

impl<C: Context> Function<C> for IsInCidr<C> {
    fn call<'a>(&'a self, item: C::Item<'a>) -> Result<Value<'a>, EvalError> {
        let target = string_arg(self.target.eval(item)?)?;
        let Ok(ip) = target.parse::<IpAddr>() else {
            return Ok(Value::Bool(false));
        };
        let found = match &self.networks {
            Ok(nets) => nets.iter().any(|n| n.contains(ip)),
            Err(e) => {
                let list = match e.eval(item)? {
                    Value::List(l) => l,
                    Value::Nil => return Err(EvalError::new("networks cannot be nil")),
                    other => return Err(super::expected("pcommon.Slice", &other)),
                };
                let mut found = false;
                for n in list.iter() {
                    let s = string_arg(Value::from_any(n))?;
                    if Cidr::parse(&s).map_err(EvalError::new)?.contains(ip) {
                        found = true;
                        break;
                    }
                }
                found
            }
        };
        Ok(Value::Bool(found))
    }
}

/// `CommunityID(sourceIP, sourcePort, destinationIP, destinationPort, Optional[protocol],
/// Optional[seed])`: version 1 of the Community ID flow hash, `1:` and the base64 SHA1 of seed,
/// addresses, protocol and ports, the endpoints ordered so both directions hash alike. Ports
/// must be 1 to 65535 as otelcol's code checks (its docs say 0 to 65535).
pub fn community_id<'a>(vals: &[Option<Value<'a>>]) -> Result<Value<'a>, EvalError> {
    let ip = |i: usize, what: &str| -> Result<Vec<u8>, EvalError> {
        let s = string_arg(arg(vals, i))?;
        match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => Ok(v4.octets().to_vec()),
            Ok(IpAddr::V6(v6)) => Ok(v6
                .to_ipv4_mapped()
                .map_or_else(|| v6.octets().to_vec(), |v4| v4.octets().to_vec())),
            Err(_) => Err(EvalError::new(format!("invalid {what} IP: {s}"))),
        }
    };
    let port = |i: usize, what: &str| -> Result<u16, EvalError> {
        let p = int_arg(arg(vals, i))?;
        u16::try_from(p).ok().filter(|&p| p >= 1).ok_or_else(|| {
            EvalError::new(format!("{what} port must be between 1 and 65535, got {p}"))
        })
    };
    let (mut src, mut dst) = (ip(0, "source")?, ip(2, "destination")?);
    let (mut sport, mut dport) = (port(1, "source")?, port(3, "destination")?);
    let protocol = match arg(vals, 4) {
        Value::Nil => 6,
        v => protocol_number(&string_arg(v)?)?,
    };
    let seed = match arg(vals, 5) {
        Value::Nil => 0,
        v => {
            let s = int_arg(v)?;
            u16::try_from(s)
                .map_err(|_| EvalError::new(format!("seed must be between 0 and 65535, got {s}")))?
        }
    };
    let swap = (src.len(), &src, sport) > (dst.len(), &dst, dport);
    if swap {
        std::mem::swap(&mut src, &mut dst);
        std::mem::swap(&mut sport, &mut dport);
    }
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&src);
    h.update(&dst);
    h.update([protocol, 0]);
    h.update(sport.to_be_bytes());
    h.update(dport.to_be_bytes());
    let digest = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    Ok(str_value(format!("1:{digest}")))
}

fn protocol_number(name: &str) -> Result<u8, EvalError> {
    Ok(match name {
        "ICMP" => 1,
        "TCP" => 6,
        "UDP" => 17,
        "RSVP" => 46,
        "ICMP6" => 58,
        "SCTP" => 132,
        other => return Err(EvalError::new(format!("unsupported protocol: {other}"))),
    })
}
