//! An HTTP front server for the credential tests: it records the `Authorization` header of
//! every request it gets and then either redirects (302) to another server, optionally only
//! after basic auth, or forwards the connection to a backend (an [`super::httpgit::HttpGit`]).
//! Binding it to another loopback address (127.0.0.2) makes it another host.

use base64::Engine as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the front does with a request once it has recorded it.
#[derive(Clone)]
pub enum Mode {
    /// 302 to `to` + the request's path and query; with `require` (`user:password`), a
    /// request without exactly that basic auth gets a 401 challenge instead.
    Redirect { to: String, require: Option<String> },
    /// Pass the connection through to `127.0.0.1:<port>`.
    Forward { port: u16 },
}

/// One request as the front saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub target: String,
    /// The `Authorization` header, decoded when it is basic auth (`user:password`).
    pub credentials: Option<String>,
}

pub struct Front {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Front {
    pub fn start(ip: &str, mode: Mode) -> Front {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (mode, seen) = (mode.clone(), seen2.clone());
                        std::thread::spawn(move || {
                            let _ = serve(conn, &mode, &seen);
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Front {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The basic-auth `user:password` pairs received so far.
    pub fn credentials(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|s| s.credentials)
            .collect()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn basic(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

fn serve(conn: TcpStream, mode: &Mode, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    head.extend_from_slice(request_line.as_bytes());
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        head.extend_from_slice(h.as_bytes());
        let line = h.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    let credentials = authorization.as_deref().map(|a| {
        a.strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| a.to_string())
    });
    seen.lock().unwrap().push(Seen {
        target: target.clone(),
        credentials,
    });
    let mut out = conn;
    match mode {
        Mode::Redirect { to, require } => {
            let authorized = require
                .as_ref()
                .is_none_or(|r| authorization.as_deref() == Some(basic(r).as_str()));
            if authorized {
                write!(
                    out,
                    "HTTP/1.1 302 Found\r\nLocation: {to}{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
            } else {
                out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"front\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            }
            out.flush()
        }
        Mode::Forward { port } => {
            let mut up = TcpStream::connect(("127.0.0.1", *port))?;
            up.write_all(&head)?;
            let mut up_w = up.try_clone()?;
            // The body (and anything else the client sends) goes up as it comes.
            let body = std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if up_w.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            let _ = std::io::copy(&mut up, &mut out);
            let _ = out.shutdown(Shutdown::Both);
            let _ = up.shutdown(Shutdown::Both);
            let _ = body.join();
            Ok(())
        }
    }
}
