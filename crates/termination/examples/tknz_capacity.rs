//! Prints how many `size`-byte results fit a compressed message (the `fit` generator of
//! tests/go_differential.rs, 36- and 16-letter alphabets), and for value files given as
//! arguments also the CPU time of compressing the largest message that fits.

use termination::{RunResult, compress, encode_json};

fn value(n: usize, size: usize, alphabet: &[u8]) -> String {
    let mut x = (n as u32).wrapping_mul(7919).wrapping_add(17);
    (0..size)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            alphabet[((x >> 16) % alphabet.len() as u32) as usize] as char
        })
        .collect()
}

/// This thread's CPU time: wall time is meaningless on a shared machine.
fn cpu_us() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000 + ts.tv_nsec as u128 / 1000
}

fn main() {
    // Optional files of values, one a line (e.g. the bench's seeded hex values).
    for path in std::env::args().skip(1) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        let mut results = Vec::new();
        for (n, v) in text.lines().enumerate() {
            results.push(RunResult::new(format!("r{n}"), v, 1));
            let mut all = results.clone();
            all.push(RunResult::new("StartedAt", "2026-12-07T22:24:36.123Z", 3));
            let start = cpu_us();
            let packed = compress(&encode_json(&all));
            let took = cpu_us() - start;
            if packed.len() > termination::MAX_MESSAGE_SIZE {
                // Best of 10 compressions of the largest message that fits: CPU cost.
                all.remove(n);
                let json = encode_json(&all);
                let best = (0..10)
                    .map(|_| {
                        let start = cpu_us();
                        let packed = compress(&json);
                        (cpu_us() - start, packed.len())
                    })
                    .min()
                    .unwrap_or_default();
                println!(
                    "{path}: fit={n} json={} tknz={} best_us={} cpu_us={took}",
                    json.len(),
                    best.1,
                    best.0
                );
                break;
            }
        }
    }
    for alphabet in [
        &b"abcdefghijklmnopqrstuvwxyz0123456789"[..],
        &b"0123456789abcdef"[..],
        &b"0123"[..],
        &b"01"[..],
    ] {
        for size in [16, 32, 64, 128, 256, 512, 1024] {
            let mut results = Vec::new();
            let mut worst = 0u128;
            let mut most = 0u128;
            for n in 0.. {
                results.push(RunResult::new(
                    format!("result-{n}"),
                    value(n, size, alphabet),
                    1,
                ));
                let plain = encode_json(&results);
                let start = cpu_us();
                let packed = compress(&plain);
                let took = cpu_us() - start;
                most = most.max(took);
                if packed.len() > termination::MAX_MESSAGE_SIZE {
                    println!(
                        "alpha={} size={size} ours={n} json={} cpu_us={worst} max_cpu_us={most}",
                        alphabet.len(),
                        plain.len()
                    );
                    break;
                }
                worst = took;
            }
        }
    }
    // Worst case for CPU: repetitive results, a large JSON just above the limit for zlib.
    let mut results = Vec::new();
    let mut most = 0;
    for n in 0.. {
        results.push(RunResult::new(format!("result-{n}"), "same value", 1));
        let plain = encode_json(&results);
        let start = cpu_us();
        let packed = compress(&plain);
        let took = cpu_us() - start;
        most = most.max(took);
        if packed.len() > termination::MAX_MESSAGE_SIZE || n > 20_000 {
            println!("repetitive: fit={n} json={} max_cpu_us={most}", plain.len());
            break;
        }
    }
}
