//! What the system detector asks the C library: `uname`, the host name, the canonical name of a
//! host (`getaddrinfo` with `AI_CANONNAME`), reverse lookups (`getnameinfo`) and the addresses
//! of the network interfaces (`getifaddrs`).

// Calls into the C library need unsafe; every block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// `uname(2)`'s fields.
pub struct Uname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
}

pub fn uname() -> Result<Uname, String> {
    // SAFETY: utsname is plain data; zeroed is a valid value, and uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: {}", std::io::Error::last_os_error()));
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field within its array.
        unsafe { CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok(Uname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
    })
}

/// The host name the kernel reports (Go's `os.Hostname`).
pub fn os_hostname() -> Result<String, String> {
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let s = s.trim();
        if !s.is_empty() {
            return Ok(s.to_string());
        }
    }
    let name = uname()?.nodename;
    if name.is_empty() {
        return Err("the kernel reports no host name".into());
    }
    Ok(name)
}

/// The canonical name of `host` (`getaddrinfo` with `AI_CANONNAME`), without a trailing dot.
pub fn canonical_name(host: &str) -> Result<String, String> {
    let c_host = CString::new(host).map_err(|e| e.to_string())?;
    // SAFETY: addrinfo is plain data; zeroed is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated host, valid hints, `res` receives a list we free below.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let why = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(format!("lookup {host}: {}", why.to_string_lossy()));
    }
    // SAFETY: `res` is the non-null list getaddrinfo returned; its first entry carries the
    // canonical name (or null), a NUL-terminated string valid until freeaddrinfo.
    let name = unsafe {
        let p = (*res).ai_canonname;
        let name = (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned());
        libc::freeaddrinfo(res);
        name
    };
    match name {
        Some(n) if !n.is_empty() => Ok(n.trim_end_matches('.').to_string()),
        _ => Err(format!("lookup {host}: no canonical name")),
    }
}

/// The name of `ip` by a reverse lookup (`getnameinfo` with `NI_NAMEREQD`), without a
/// trailing dot.
pub fn reverse_lookup(ip: IpAddr) -> Result<String, String> {
    let addr = SocketAddr::new(ip, 0);
    let (storage, len) = sockaddr(&addr);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes; `host` is writable for its
    // length; no service buffer is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let why = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(format!("lookup {ip}: {}", why.to_string_lossy()));
    }
    // SAFETY: getnameinfo NUL-terminated `host` on success.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) }.to_string_lossy();
    Ok(name.trim_end_matches('.').to_string())
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// The addresses `host` resolves to.
pub fn resolve(host: &str) -> Result<Vec<IpAddr>, String> {
    let addrs = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {host}: {e}"))?;
    Ok(addrs.map(|a| a.ip()).collect())
}

/// The addresses of every interface that is up and not a loopback, in interface order.
pub fn interface_ips() -> Result<Vec<IpAddr>, String> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` receives a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(format!("getifaddrs: {}", std::io::Error::last_os_error()));
    }
    let mut out = Vec::new();
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` walks the list getifaddrs returned, valid until freeifaddrs.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        let flags = ifa.ifa_flags as libc::c_int;
        if ifa.ifa_addr.is_null() || flags & libc::IFF_LOOPBACK != 0 || flags & libc::IFF_UP == 0 {
            continue;
        }
        // SAFETY: ifa_addr is non-null and its family says which sockaddr it is.
        let ip = unsafe {
            match (*ifa.ifa_addr).sa_family as libc::c_int {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            }
        };
        out.extend(ip);
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}
