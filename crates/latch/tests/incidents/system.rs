//! The incident system of the incident tests: a real HTTP/1.1 server on a free port answering Latch's task lookups.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const OUTBOUND: &str = "bearer-token-latch-sends-0123456789";
pub const INBOUND: &str = "bearer-token-itsm-sends-0123456789";
/// A ticket the incident system takes longer to answer than the integration's timeout (1 s).
pub const SLOW_TICKET: &str = "INC-SLOW";

/// One lookup the incident system received.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub authorization: Option<String>,
    pub body: Value,
}

/// The incident system: a real HTTP/1.1 server on a free port, one thread per connection, answering
/// `{"tasks": [...]}` from `tasks` by ticket, 401 without Latch's bearer token, and late for [`SLOW_TICKET`].
pub struct IncidentSystem {
    pub url: String,
    lookups: Arc<Mutex<Vec<Lookup>>>,
}

impl IncidentSystem {
    pub fn start(tasks: HashMap<String, Value>) -> IncidentSystem {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pam/tasks", listener.local_addr().unwrap());
        let lookups = Arc::new(Mutex::new(Vec::new()));
        let log = lookups.clone();
        let tasks = Arc::new(tasks);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, tasks) = (log.clone(), tasks.clone());
                std::thread::spawn(move || answer(stream, &log, &tasks));
            }
        });
        IncidentSystem { url, lookups }
    }

    pub fn lookups(&self) -> Vec<Lookup> {
        self.lookups.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<Vec<Lookup>>, tasks: &HashMap<String, Value>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let length: usize = header("content-length").map(|v| v.parse().unwrap()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = header("authorization");
    log.lock().unwrap().push(Lookup { authorization: authorization.clone(), body: body.clone() });
    let ticket = body["ticket"].as_str().unwrap_or_default().to_owned();
    let (status, reply) = if authorization.as_deref() != Some(&format!("Bearer {OUTBOUND}")) {
        ("401 Unauthorized", json!({"error": "who are you"}))
    } else {
        if ticket == SLOW_TICKET {
            std::thread::sleep(Duration::from_secs(4));
        }
        ("200 OK", json!({ "tasks": tasks.get(&ticket).cloned().unwrap_or_else(|| json!([])) }))
    };
    let reply = reply.to_string();
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .as_bytes(),
    );
}

impl IncidentSystem {
    /// The `[[integrations]]` table of an integration `name` using this system, its secrets written into `dir`.
    pub fn config(&self, name: &str, dir: &std::path::Path) -> String {
        let outbound = dir.join(format!("{name}.secret"));
        let inbound = dir.join(format!("{name}-inbound.secret"));
        std::fs::write(&outbound, format!("{OUTBOUND}\n")).unwrap();
        std::fs::write(&inbound, format!("{INBOUND}\n")).unwrap();
        format!(
            "[[integrations]]\nname = \"{name}\"\nurl = \"{}\"\nsecret_file = \"{}\"\ntimeout_seconds = 1\n\
             inbound_secret_file = \"{}\"\n",
            self.url,
            outbound.display(),
            inbound.display()
        )
    }
}
