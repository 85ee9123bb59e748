//! The service detectors against loopback mocks: EC2 IMDSv2 (token PUT, then GETs with it),
//! Azure IMDS, the GCE metadata server and the Docker Engine socket; one mock that accepts and
//! never answers proves detection ends at `timeout`; absent services fail fast.

use super::detect::{detect_all, Endpoints};
use super::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

/// What the mock saw: method, path and headers (lower-case names).
type Seen = (String, String, HashMap<String, String>);

fn read_request(s: &mut impl Read) -> Seen {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).unwrap();
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&b[..n]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (
        first.next().unwrap_or("").into(),
        first.next().unwrap_or("").into(),
    );
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (method, path, headers)
}

fn respond(s: &mut impl Write, status: u16, body: &str) {
    let r = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(r.as_bytes());
}

/// A loopback HTTP server answering with `route`; returns its `http://` endpoint.
fn serve(route: impl Fn(&Seen) -> (u16, String) + Send + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let seen = read_request(&mut s);
            let (status, body) = route(&seen);
            respond(&mut s, status, &body);
        }
    });
    format!("http://{addr}")
}

fn endpoints(ec2: &str, gcp: &str, azure: &str, docker: &str) -> Endpoints {
    Endpoints {
        docker_socket: Ok(docker.into()),
        ec2: Ok(ec2.into()),
        gcp: gcp.trim_start_matches("http://").into(),
        azure: azure.into(),
    }
}

fn cfg(detectors: &[&str]) -> ResourceDetectionConfig {
    ResourceDetectionConfig {
        detectors: detectors.iter().map(|d| d.to_string()).collect(),
        ..Default::default()
    }
}

fn get(d: &Detected, key: &str) -> Option<String> {
    let kv = d.attributes.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        ferrotel_core::proto::common::v1::any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

const DOC: &str = r#"{"accountId":"123456789012","availabilityZone":"us-west-2b",
  "imageId":"ami-5fb8c835","instanceId":"i-1234567890abcdef0","instanceType":"t2.micro",
  "region":"us-west-2","architecture":"x86_64"}"#;

fn imds_v2(seen: &Seen) -> (u16, String) {
    let (method, path, headers) = seen;
    match (method.as_str(), path.as_str()) {
        ("PUT", "/latest/api/token")
            if headers
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .is_some() =>
        {
            (200, "TOKEN".into())
        }
        ("GET", _)
            if headers.get("x-aws-ec2-metadata-token").map(String::as_str) != Some("TOKEN") =>
        {
            (401, String::new())
        }
        ("GET", "/latest/dynamic/instance-identity/document") => (200, DOC.into()),
        ("GET", "/latest/meta-data/hostname") => (200, "ip-172-31-0-1.ec2.internal".into()),
        ("GET", "/latest/meta-data/tags/instance") => (200, "team\nother".into()),
        ("GET", "/latest/meta-data/tags/instance/team") => (200, "checkout".into()),
        _ => (404, String::new()),
    }
}

#[test]
fn ec2_imdsv2_token_then_gets() {
    let ep = serve(imds_v2);
    let mut c = cfg(&["ec2"]);
    c.ec2.tags = vec!["^team$".into()];
    c.ec2.tags_from_imds = true;
    let d = detect_all(&c, &endpoints(&ep, "", "", ""), Duration::from_secs(5));
    assert_eq!(get(&d, "cloud.provider").as_deref(), Some("aws"));
    assert_eq!(get(&d, "cloud.platform").as_deref(), Some("aws_ec2"));
    assert_eq!(get(&d, "cloud.region").as_deref(), Some("us-west-2"));
    assert_eq!(get(&d, "cloud.account.id").as_deref(), Some("123456789012"));
    assert_eq!(
        get(&d, "cloud.availability_zone").as_deref(),
        Some("us-west-2b")
    );
    assert_eq!(get(&d, "host.id").as_deref(), Some("i-1234567890abcdef0"));
    assert_eq!(get(&d, "host.image.id").as_deref(), Some("ami-5fb8c835"));
    assert_eq!(get(&d, "host.type").as_deref(), Some("t2.micro"));
    assert_eq!(
        get(&d, "host.name").as_deref(),
        Some("ip-172-31-0-1.ec2.internal")
    );
    assert_eq!(get(&d, "ec2.tag.team").as_deref(), Some("checkout"));
    assert_eq!(get(&d, "ec2.tag.other"), None);
    assert_eq!(d.schema_url, SCHEMA_URL);
}

#[test]
fn ec2_attribute_switches() {
    let ep = serve(imds_v2);
    let mut c = cfg(&["ec2"]);
    let off = attrs::Toggle { enabled: false };
    c.ec2.resource_attributes.0.insert("host.name".into(), off);
    let d = detect_all(&c, &endpoints(&ep, "", "", ""), Duration::from_secs(5));
    assert_eq!(get(&d, "host.name"), None);
    assert_eq!(get(&d, "host.id").as_deref(), Some("i-1234567890abcdef0"));
}

/// A mock that accepts connections and never answers: detection ends at `timeout`, and the
/// other detectors' results are kept.
#[test]
fn a_service_that_never_answers_is_cut_at_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = l.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let mut c = cfg(&["ec2", "system"]);
    c.system.hostname_sources = vec!["os".into()];
    let start = Instant::now();
    let d = detect_all(&c, &endpoints(&ep, "", "", ""), Duration::from_millis(400));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(get(&d, "cloud.provider"), None);
    assert!(get(&d, "host.name").is_some(), "system still contributes");
}

#[test]
fn absent_services_fail_fast() {
    // A loopback port nobody listens on: connection refused at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("http://127.0.0.1:{port}");
    let c = cfg(&["ec2", "gcp", "azure", "docker"]);
    let start = Instant::now();
    let d = detect_all(
        &c,
        &endpoints(&ep, &ep, &ep, "/nonexistent/docker.sock"),
        Duration::from_secs(5),
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(d.attributes.is_empty(), "{d:?}");
    let e = docker::detect(
        &Default::default(),
        "/nonexistent/docker.sock",
        Instant::now(),
    )
    .unwrap_err();
    assert!(e.contains("/nonexistent/docker.sock does not exist"), "{e}");
    let e = ec2::detect(
        &Default::default(),
        &ep,
        Instant::now() + Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(
        e.starts_with("not on EC2 or IMDS unreachable at http://127.0.0.1:"),
        "{e}"
    );
}

#[test]
fn azure_imds() {
    let ep = serve(|(_, path, headers)| {
        if headers.get("metadata").map(String::as_str) != Some("true")
            || !path.starts_with("/metadata/instance/compute?api-version=")
        {
            return (400, String::new());
        }
        let body = r#"{"location":"westeurope","name":"vm1","vmId":"02aab8a4",
            "vmSize":"Standard_D2s_v3","subscriptionId":"sub-1","resourceGroupName":"rg",
            "vmScaleSetName":"","zone":"2","tagsList":[{"name":"team","value":"pay"},
            {"name":"x","value":"y"}]}"#;
        (200, body.into())
    });
    let mut c = cfg(&["azure"]);
    c.azure.tags = vec!["^team$".into()];
    let d = detect_all(&c, &endpoints("", "", &ep, ""), Duration::from_secs(5));
    assert_eq!(get(&d, "cloud.provider").as_deref(), Some("azure"));
    assert_eq!(get(&d, "cloud.platform").as_deref(), Some("azure_vm"));
    assert_eq!(get(&d, "cloud.region").as_deref(), Some("westeurope"));
    assert_eq!(get(&d, "host.name").as_deref(), Some("vm1"));
    assert_eq!(get(&d, "host.id").as_deref(), Some("02aab8a4"));
    assert_eq!(get(&d, "azure.vm.size").as_deref(), Some("Standard_D2s_v3"));
    assert_eq!(get(&d, "cloud.availability_zone").as_deref(), Some("2"));
    assert_eq!(get(&d, "azure.tags.team").as_deref(), Some("pay"));
    assert_eq!(get(&d, "azure.tags.x"), None);
}

#[test]
fn gce_metadata() {
    let ep = serve(|(_, path, headers)| {
        if headers.get("metadata-flavor").map(String::as_str) != Some("Google") {
            return (403, String::new());
        }
        let v = match path.trim_start_matches("/computeMetadata/v1/") {
            "project/project-id" => "my-project",
            "instance/zone" => "projects/123/zones/us-central1-c",
            "instance/id" => "4520031799277581759",
            "instance/name" => "instance-1",
            "instance/machine-type" => "projects/123/machineTypes/e2-medium",
            "instance/hostname" => "instance-1.c.my-project.internal",
            _ => return (404, String::new()),
        };
        (200, v.into())
    });
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return; // this test is about GCE, not GKE
    }
    let d = detect_all(
        &cfg(&["gcp"]),
        &endpoints("", &ep, "", ""),
        Duration::from_secs(5),
    );
    assert_eq!(get(&d, "cloud.provider").as_deref(), Some("gcp"));
    assert_eq!(
        get(&d, "cloud.platform").as_deref(),
        Some("gcp_compute_engine")
    );
    assert_eq!(get(&d, "cloud.account.id").as_deref(), Some("my-project"));
    assert_eq!(get(&d, "cloud.region").as_deref(), Some("us-central1"));
    assert_eq!(
        get(&d, "cloud.availability_zone").as_deref(),
        Some("us-central1-c")
    );
    assert_eq!(get(&d, "host.id").as_deref(), Some("4520031799277581759"));
    assert_eq!(get(&d, "host.name").as_deref(), Some("instance-1"));
    assert_eq!(get(&d, "host.type").as_deref(), Some("e2-medium"));
    assert_eq!(get(&d, "gcp.gce.instance.hostname"), None, "off by default");
}

#[test]
fn docker_engine_info_over_the_socket() {
    let dir = std::env::temp_dir().join(format!("ferrotel-resdet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("docker.sock");
    let _ = std::fs::remove_file(&sock);
    let l = UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let (_, path, _) = read_request(&mut s);
            let hostname = super::host::os_hostname().unwrap();
            let body = match path.as_str() {
                "/info" => r#"{"Name":"docker-host-1","OSType":"linux"}"#.to_string(),
                p if p == format!("/containers/{hostname}/json") => {
                    r#"{"Name":"/collector","Image":"sha256:abc"}"#.to_string()
                }
                "/images/sha256:abc/json" => r#"{"RepoTags":["otel/c:1","otel/c:latest"]}"#.into(),
                _ => {
                    respond(&mut s, 404, "");
                    continue;
                }
            };
            respond(&mut s, 200, &body);
        }
    });
    let sock = sock.to_string_lossy().to_string();
    let d = detect_all(
        &cfg(&["docker"]),
        &endpoints("", "", "", &sock),
        Duration::from_secs(5),
    );
    assert_eq!(get(&d, "host.name").as_deref(), Some("docker-host-1"));
    assert_eq!(get(&d, "os.type").as_deref(), Some("linux"));
    assert_eq!(
        docker::socket_path(Some("unix:///run/user/1000/docker.sock")).unwrap(),
        "/run/user/1000/docker.sock"
    );
    assert!(docker::socket_path(Some("tcp://1.2.3.4:2375")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The processor detects once, at start, and reuses the result for every batch.
#[test]
fn detection_runs_once() {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = count.clone();
    let ep = serve(move |seen| {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        imds_v2(seen)
    });
    let p = ResourceDetectionProcessor::with_endpoints(cfg(&["ec2"]), endpoints(&ep, "", "", ""));
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "create asks nothing"
    );
    p.start();
    let calls = count.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 3, "start detects: token, document, hostname");
    for _ in 0..3 {
        let data = ferrotel_testkit::fixtures::data(Signal::Traces, 1);
        let mut out = vec![];
        let meta = std::sync::Arc::new(RequestMeta::default());
        p.process(Batch::from_data(data, meta), &mut out).unwrap();
    }
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "batches ask nothing more"
    );
    assert_eq!(
        get(p.detected(), "host.id").as_deref(),
        Some("i-1234567890abcdef0")
    );
}
