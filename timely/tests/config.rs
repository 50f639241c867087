//! Timely's arguments read by `config_from_args`: every mistake timely would leave to a panic or a hang later is a typed error that names the argument.

use kahn_timely::{config_from_args, DistributedError};

fn args(list: &[&str]) -> std::vec::IntoIter<String> {
    let mut args = vec!["etl".to_string()];
    args.extend(list.iter().map(|a| a.to_string()));
    args.into_iter()
}

fn hostfile(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("kahn-timely-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_process_index_outside_the_processes_is_refused() {
    let err = config_from_args(args(&["-n", "2", "-p", "2"])).unwrap_err();
    assert_eq!(
        err,
        DistributedError::ProcessOutOfRange {
            process: 2,
            processes: 2
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("-p 2") && msg.contains("0 to 1"), "{msg}");
}

#[test]
fn no_worker_threads_is_refused() {
    for list in [&["-w", "0"][..], &["-w", "0", "-n", "2", "-p", "0"]] {
        let err = config_from_args(args(list)).unwrap_err();
        assert_eq!(err, DistributedError::NoWorkers, "{list:?}");
    }
}

#[test]
fn a_host_file_that_cannot_be_read_is_named() {
    let err = config_from_args(args(&["-n", "2", "-h", "/nonexistent/hosts.txt"])).unwrap_err();
    assert!(matches!(err, DistributedError::HostFile { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/hosts.txt"), "{err}");
}

#[test]
fn a_host_file_line_without_a_port_is_named() {
    let path = hostfile("noport", "127.0.0.1:4000\nhost-b\n");
    let err = config_from_args(args(&["-n", "2", "-p", "0", "-h", &path])).unwrap_err();
    assert_eq!(
        err,
        DistributedError::BadAddress {
            line: 2,
            process: 1,
            address: "host-b".into()
        }
    );
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn a_host_file_shorter_than_the_processes_is_an_error() {
    let path = hostfile("short", "127.0.0.1:4000\n");
    let err = config_from_args(args(&["-n", "3", "-h", &path])).unwrap_err();
    assert!(matches!(err, DistributedError::Timely(_)), "{err}");
}

#[test]
fn arguments_timely_does_not_take_are_an_error() {
    let err = config_from_args(args(&["--frobnicate"])).unwrap_err();
    assert!(matches!(err, DistributedError::Timely(_)), "{err}");
    assert!(err.to_string().contains("frobnicate"), "{err}");
}

#[test]
fn good_arguments_give_timely_configurations() {
    assert!(matches!(
        config_from_args(args(&["-w", "3"])).unwrap().communication,
        timely::CommunicationConfig::Process(3)
    ));
    let path = hostfile("good", "127.0.0.1:4000\n[::1]:4001\nhost-c:4002\n");
    let config = config_from_args(args(&["-w", "2", "-n", "3", "-p", "1", "-h", &path])).unwrap();
    match config.communication {
        timely::CommunicationConfig::Cluster {
            threads,
            process,
            addresses,
            ..
        } => {
            assert_eq!((threads, process, addresses.len()), (2, 1, 3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn loopback_addresses_are_distinct_free_ports_below_the_outgoing_range() {
    let addresses = kahn_timely::loopback_addresses(5).unwrap();
    assert_eq!(addresses.len(), 5);
    let mut ports: Vec<u16> = addresses
        .iter()
        .map(|a| a.strip_prefix("127.0.0.1:").unwrap().parse().unwrap())
        .collect();
    assert!(
        ports.iter().all(|&p| (20_000..32_768).contains(&p)),
        "{ports:?}"
    );
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 5, "{addresses:?}");
    // Free now: each can be listened on.
    for address in &addresses {
        std::net::TcpListener::bind(address.as_str()).unwrap();
    }
}
